import { expect } from 'chai';
import { from, lastValueFrom, toArray } from 'rxjs';
import { Color, NodePath, Vector2 } from '../../src/codec/godotTypes.js';
import { encodeVariant } from '../../src/codec/variant.js';
import { VariantError } from '../../src/codec/VariantError.js';
import { JsonCodecError } from '../../src/codec/JsonCodecError.js';
import { decodeJsonPackets, encodeJsonPackets } from '../../src/operators/jsonPackets.js';
import { decodeVariants, encodeVariants } from '../../src/operators/variants.js';
import { WriteMode } from '../../src/peer/constants.js';
import type { Packet } from '../../src/peer/types.js';
import { WebSocketPeerError } from '../../src/errors/WebSocketPeerError.js';
import { delay, openPair, stopAll, takeValues } from '../helpers.js';

async function until(check: () => boolean, ms = 2000): Promise<void> {
  const start = Date.now();
  while (!check()) {
    if (Date.now() - start > ms) throw new Error('timed out waiting');
    await delay(5);
  }
}

describe('putVar()/getVar() and the codec operators', () => {
  afterEach(stopAll);

  it('putVar() sends the engine encoding as a binary frame, even in text mode; getVar() decodes it', async () => {
    const { client, remote } = await openPair();
    expect(client.peer.getWriteMode()).to.equal(WriteMode.Text);
    const value = new Map<string, unknown>([
      ['position', new Vector2(1.5, -2)],
      ['tint', new Color(1, 0.5, 0.25, 1)],
      ['path', NodePath.parse('/root/Main:position')],
      ['score', 2 ** 40],
    ]);
    client.peer.putVar(value as never);
    const [packet] = await takeValues(remote.packets$, 1);
    expect(packet?.isString).to.equal(false);
    expect(Buffer.from(packet?.data as Uint8Array).equals(Buffer.from(encodeVariant(value as never)))).to.equal(true);
    client.peer.putVar([1, 'two', 3.5]);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(remote.getVar()).to.deep.equal([1, 'two', 3.5]);
    expect(remote.wasStringPacket()).to.equal(false);
    expect(remote.getVar()).to.equal(undefined);
  });

  it('getVar() refuses a text packet and bytes that are no encoding with VariantError, and takes them', async () => {
    const { client, remote } = await openPair();
    client.peer.sink.next('not a variant');
    client.peer.sink.next({ isString: false, data: new Uint8Array([0xff, 0xff, 0, 0]) });
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(() => remote.getVar())
      .to.throw(VariantError)
      .with.property('code', 'ERR_VARIANT_INVALID');
    expect(() => remote.getVar())
      .to.throw(VariantError)
      .with.property('code', 'ERR_VARIANT_TYPE');
    expect(remote.getAvailablePacketCount()).to.equal(0);
  });

  it('putVar() throws VariantError for what Godot cannot encode, ERR_PEER_CLOSED once closing, and sends nothing', async () => {
    const { client, remote } = await openPair();
    expect(() => client.peer.putVar((() => 1) as never))
      .to.throw(VariantError)
      .with.property('code', 'ERR_VARIANT_UNENCODABLE');
    client.peer.close();
    expect(() => client.peer.putVar(1))
      .to.throw(WebSocketPeerError)
      .with.property('code', 'ERR_PEER_CLOSED');
    await takeValues(remote.closed$, 1);
    expect(remote.getAvailablePacketCount()).to.equal(0);
  });

  it('getVar()/putVar() refuse an unknown option key before taking or sending anything', async () => {
    const { client, remote } = await openPair();
    const refused = (fn: () => unknown, message: string): void => {
      try {
        fn();
      } catch (error) {
        expect(error).to.be.instanceOf(VariantError).with.property('code', 'ERR_VARIANT_INVALID_ARG');
        expect((error as Error).message).to.equal(message);
        return;
      }
      expect.fail('expected a VariantError');
    };
    refused(
      () => client.peer.putVar(1, { engin: 4 } as never),
      "putVar(): unknown option 'engin' (did you mean 'engine'?)",
    );
    client.peer.putVar(2);
    await until(() => remote.getAvailablePacketCount() === 1);
    // Refused even with nothing waiting, and the waiting packet is not taken (and lost) for it.
    refused(() => remote.getVar({ Engine: 4 } as never), "getVar(): unknown option 'Engine' (did you mean 'engine'?)");
    expect(remote.getAvailablePacketCount()).to.equal(1);
    expect(remote.getVar({ engine: undefined })).to.equal(2);
    refused(() => remote.getVar({ Engine: 4 } as never), "getVar(): unknown option 'Engine' (did you mean 'engine'?)");
  });

  it('the codec operators refuse an unknown option key synchronously, before any value', () => {
    const refused = (
      fn: () => unknown,
      Kind: typeof VariantError | typeof JsonCodecError,
      code: string,
      message: string,
    ): void => {
      try {
        fn();
      } catch (error) {
        expect(error).to.be.instanceOf(Kind).with.property('code', code);
        expect((error as Error).message).to.equal(message);
        return;
      }
      expect.fail(`expected a ${Kind.name}`);
    };
    const variant = [VariantError, 'ERR_VARIANT_INVALID_ARG'] as const;
    const json = [JsonCodecError, 'ERR_JSON_INVALID_ARG'] as const;
    refused(
      () => decodeVariants({ engin: 4 } as never),
      ...variant,
      "decodeVariants(): unknown option 'engin' (did you mean 'engine'?)",
    );
    refused(
      () => encodeVariants({ depth: 4 } as never),
      ...variant,
      "encodeVariants(): unknown option 'depth' (did you mean 'maxDepth'?)",
    );
    refused(
      () => decodeJsonPackets({ reviver: null } as never),
      ...json,
      "decodeJsonPackets(): unknown option 'reviver'",
    );
    refused(
      () => encodeJsonPackets({ maxsize: 1 } as never),
      ...json,
      "encodeJsonPackets(): unknown option 'maxsize' (did you mean 'maxSize'?)",
    );
    // A bad value too is refused now rather than at the first value.
    refused(
      () => decodeVariants({ engine: 5 as never }),
      ...variant,
      'engine must be 3 or 4 (Godot 3.x or 4.x), not 5',
    );
    expect(() => decodeVariants({ maxSize: undefined, maxDepth: undefined, engine: undefined })).not.to.throw();
    expect(() => encodeJsonPackets({ maxSize: undefined, maxDepth: undefined })).not.to.throw();
    expect(() => decodeJsonPackets(undefined)).not.to.throw();
  });

  it('encodeVariants() and decodeVariants() carry values through a real connection', async () => {
    const { client, remote } = await openPair();
    const values = [1, 'x', [true, null], new Map([['k', 2.5]])];
    from(values)
      .pipe(encodeVariants())
      .subscribe((packet) => client.peer.sink.next(packet));
    const packets = await takeValues(remote.packets$, values.length);
    expect(await lastValueFrom(from(packets).pipe(decodeVariants(), toArray()))).to.deep.equal(values);
  });

  it('decodeVariants() errors with VariantError on a text packet', async () => {
    const text: Packet = { isString: true, data: 'x' };
    const result = await lastValueFrom(from([text]).pipe(decodeVariants())).catch((error: unknown) => error);
    expect(result).to.be.instanceOf(VariantError).with.property('code', 'ERR_VARIANT_INVALID');
  });

  it('encodeJsonPackets() sends text, decodeJsonPackets() parses text and UTF-8 binary, and errors with JsonCodecError', async () => {
    const { client, remote } = await openPair();
    from([{ a: 1 }, [1, 'é']])
      .pipe(encodeJsonPackets())
      .subscribe((packet) => client.peer.sink.next(packet));
    client.peer.sink.next({ isString: false, data: new TextEncoder().encode('{"b":true}') });
    const packets = await takeValues(remote.packets$, 3);
    expect(packets.map((p) => p.isString)).to.deep.equal([true, true, false]);
    expect(await lastValueFrom(from(packets).pipe(decodeJsonPackets(), toArray()))).to.deep.equal([
      { a: 1 },
      [1, 'é'],
      { b: true },
    ]);
    const bad = await lastValueFrom(from([{ isString: true, data: '{' } as Packet]).pipe(decodeJsonPackets())).catch(
      (e: unknown) => e,
    );
    expect(bad).to.be.instanceOf(JsonCodecError).with.property('code', 'ERR_JSON_SYNTAX');
  });
});
