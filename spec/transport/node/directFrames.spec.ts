import { randomBytes } from 'node:crypto';
import { expect } from 'chai';
import fc from 'fast-check';
import { createRequire } from 'node:module';
import type { Writable } from 'node:stream';
import { isKnownReceiver, readFramesDirectly } from '../../../src/transport/node/directFrames.js';
import type { Packet } from '../../../src/peer/types.js';
import { internalsOf, openPair, prng, stopAll, takeValues } from '../../helpers.js';

/** ws's frame parser (lib/receiver.js), which ws exports but its types do not declare. */
const { Receiver } = createRequire(import.meta.url)('ws') as {
  Receiver: new (options: { isServer: boolean; maxPayload: number }) => Writable;
};

/** What a receiver handed out, in order, whoever read it: ws or the fast path. */
type Event =
  | ['text', string]
  | ['binary', string]
  | ['ping', string]
  | ['pong', string]
  | ['close', number, string]
  | ['error', string];

interface Frame {
  opcode: number;
  payload: Buffer;
  fin?: boolean;
  rsv?: number;
  masked?: boolean;
  /** The masking key; random by default. */
  key?: Buffer;
}

/** The bytes of one frame, masked with a random key when `masked` (a client's, by default). */
function frameBytes({ opcode, payload, fin = true, rsv = 0, masked = true, key = randomBytes(4) }: Frame): Buffer {
  const length = payload.length;
  const lengthBytes = length < 126 ? 0 : length < 65536 ? 2 : 8;
  const header = Buffer.alloc(2 + lengthBytes + (masked ? 4 : 0));
  header[0] = (fin ? 0x80 : 0) | (rsv << 4) | opcode;
  header[1] = (masked ? 0x80 : 0) | (lengthBytes === 0 ? length : lengthBytes === 2 ? 126 : 127);
  if (lengthBytes === 2) header.writeUInt16BE(length, 2);
  if (lengthBytes === 8) header.writeBigUInt64BE(BigInt(length), 2);
  const body = Buffer.from(payload);
  if (masked) {
    key.copy(header, 2 + lengthBytes);
    for (let i = 0; i < body.length; i++) body[i] = (body[i] as number) ^ (key[i & 3] as number);
  }
  return Buffer.concat([header, body]);
}

/** A real ws Receiver, read by the fast path (`direct`) or by ws alone, and what it hands out. */
function receiver(direct: boolean, options: { isServer?: boolean; maxPayload?: number } = {}) {
  const events: Event[] = [];
  const r = new Receiver({ isServer: options.isServer ?? true, maxPayload: options.maxPayload ?? 0 });
  r.on('message', (data: Buffer, isBinary: boolean) =>
    events.push(isBinary ? ['binary', data.toString('hex')] : ['text', data.toString('utf8')]),
  );
  r.on('ping', (data: Buffer) => events.push(['ping', data.toString('hex')]));
  r.on('pong', (data: Buffer) => events.push(['pong', data.toString('hex')]));
  r.on('conclude', (code: number, reason: Buffer) => events.push(['close', code, reason.toString()]));
  r.on('error', (error: Error & { code?: string }) => events.push(['error', error.code ?? error.message]));
  if (direct) {
    const installed = readFramesDirectly(r, {
      binary: (bytes) => events.push(['binary', Buffer.from(bytes).toString('hex')]),
      text: (text) => events.push(['text', text]),
    });
    expect(installed, 'the fast path takes ws’s receiver').to.equal(true);
  }
  return {
    events,
    /** Writes `bytes` in pieces cut at `cuts` (offsets), as a socket's reads would come. */
    feed(bytes: Buffer, cuts: number[] = []): void {
      let from = 0;
      for (const cut of [...new Set(cuts)].filter((c) => c > 0 && c < bytes.length).sort((a, b) => a - b)) {
        r.write(bytes.subarray(from, cut));
        from = cut;
      }
      r.write(bytes.subarray(from));
    },
  };
}

/** What ws alone hands out for `bytes` and what it does with the fast path, cut the same way. */
async function both(bytes: Buffer, cuts: number[] = [], options: { isServer?: boolean; maxPayload?: number } = {}) {
  const alone = receiver(false, options);
  const direct = receiver(true, options);
  // Masking happens in place: each side reads its own copy.
  alone.feed(Buffer.from(bytes), cuts);
  direct.feed(Buffer.from(bytes), cuts);
  // A stream reports its error on the next tick.
  await new Promise((resolve) => setImmediate(resolve));
  return { alone: alone.events, direct: direct.events };
}

const text = (s: string, extra: Partial<Frame> = {}): Frame => ({ opcode: 1, payload: Buffer.from(s), ...extra });
const binary = (b: Buffer, extra: Partial<Frame> = {}): Frame => ({ opcode: 2, payload: b, ...extra });

describe('directFrames: whole frames read without ws’s per-frame machinery', () => {
  afterEach(stopAll);

  it('takes the receiver of the installed ws (a ws that moved its fields fails here, not silently)', () => {
    expect(isKnownReceiver(new Receiver({ isServer: true, maxPayload: 0 }))).to.equal(true);
    expect(isKnownReceiver(new Receiver({ isServer: false, maxPayload: 0 }))).to.equal(true);
    expect(isKnownReceiver({})).to.equal(false);
    expect(isKnownReceiver(null)).to.equal(false);
  });

  it('is in use under every peer of listen() and connect()', async () => {
    const { client, remote } = await openPair();
    for (const peer of [client.peer, remote]) {
      const receiver = (internalsOf(peer).ws as unknown as { _receiver: { _write: { name: string } } })._receiver;
      expect(receiver._write.name).to.equal('directWrite');
    }
  });

  it('hands out what ws hands out, in order, with every kind of frame and every cut (property)', async () => {
    const frameArb: fc.Arbitrary<Frame[]> = fc.oneof(
      fc.string({ maxLength: 40 }).map((s) => [text(s)]),
      fc.string({ unit: 'grapheme', maxLength: 60 }).map((s) => [text(s)]),
      fc.uint8Array({ maxLength: 300 }).map((b) => [binary(Buffer.from(b))]),
      fc.integer({ min: 125, max: 70_000 }).map((n) => [binary(randomBytes(n))]),
      fc.uint8Array({ maxLength: 20 }).map((b) => [{ opcode: 9, payload: Buffer.from(b) }]),
      fc.uint8Array({ maxLength: 20 }).map((b) => [{ opcode: 10, payload: Buffer.from(b) }]),
      // A fragmented text with a ping between its fragments.
      fc
        .tuple(fc.string({ maxLength: 10 }), fc.string({ maxLength: 10 }))
        .map(([a, b]) => [
          text(a, { fin: false }),
          { opcode: 9, payload: Buffer.from('p') },
          { opcode: 0, payload: Buffer.from(b) },
        ]),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.array(frameArb, { minLength: 1, maxLength: 12 }),
        fc.array(fc.nat(), { maxLength: 8 }),
        async (groups, rawCuts) => {
          const bytes = Buffer.concat(groups.flat().map(frameBytes));
          const cuts = rawCuts.map((c) => c % (bytes.length + 1));
          const { alone, direct } = await both(bytes, cuts);
          expect(direct).to.deep.equal(alone);
          expect(alone.filter((e) => e[0] === 'error')).to.deep.equal([]);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('cut at every byte: 64 B messages, a 16-bit length, and multi-byte text', async () => {
    const frames = [
      text('a'.repeat(64)),
      binary(randomBytes(64)),
      text('é€𝄞 mixed'),
      binary(randomBytes(126)),
      text('x'.repeat(1000)),
      binary(Buffer.alloc(0)),
      text(''),
    ];
    const bytes = Buffer.concat(frames.map(frameBytes));
    for (let cut = 0; cut <= bytes.length; cut++) {
      const { alone, direct } = await both(bytes, [cut, cut + 1, cut + 3]);
      expect(direct, `cut at ${cut}`).to.deep.equal(alone);
      expect(direct).to.have.length(frames.length);
    }
  });

  it('invalid UTF-8 fails as ws fails it (1007), whatever came before it and wherever it is cut', async () => {
    const bad = { opcode: 1, payload: Buffer.from([0x61, 0xc3, 0x28, 0x62]) };
    const longBad = { opcode: 1, payload: Buffer.concat([Buffer.from('é'.repeat(40)), Buffer.from([0xff])]) };
    for (const frame of [bad, longBad]) {
      const bytes = Buffer.concat([frameBytes(text('before')), frameBytes(frame), frameBytes(text('after'))]);
      for (let cut = 0; cut <= bytes.length; cut += 3) {
        const { alone, direct } = await both(bytes, [cut]);
        expect(direct, `cut at ${cut}`).to.deep.equal(alone);
        expect(direct).to.deep.equal([
          ['text', 'before'],
          ['error', 'WS_ERR_INVALID_UTF8'],
        ]);
      }
    }
  });

  it('hands ws an invalid text as it came, masked: ws never reads it unmasked twice', async () => {
    // 0xff is no UTF-8; masked with 0xbf it is '@'. Read unmasked twice, it would be a valid '@'.
    const frame = { opcode: 1, payload: Buffer.from([0xff]), key: Buffer.from([0xbf, 0, 0, 0]) };
    const { alone, direct } = await both(Buffer.concat([frameBytes(frame), frameBytes(text('after'))]));
    expect(direct).to.deep.equal(alone);
    expect(direct).to.deep.equal([['error', 'WS_ERR_INVALID_UTF8']]);
  });

  it('leaves every protocol error to ws: unmasked, reserved bits, oversize, bad opcode, bare continuation', async () => {
    const cases: [Frame, string, { maxPayload?: number }?][] = [
      [text('x', { masked: false }), 'WS_ERR_EXPECTED_MASK'],
      [text('x', { rsv: 4 }), 'WS_ERR_UNEXPECTED_RSV_1'],
      [text('x', { rsv: 2 }), 'WS_ERR_UNEXPECTED_RSV_2_3'],
      [binary(Buffer.alloc(101)), 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH', { maxPayload: 100 }],
      [{ opcode: 3, payload: Buffer.from('x') }, 'WS_ERR_INVALID_OPCODE'],
      [{ opcode: 0, payload: Buffer.from('x') }, 'WS_ERR_INVALID_OPCODE'],
    ];
    for (const [frame, code, options] of cases) {
      const bytes = Buffer.concat([frameBytes(text('ok')), frameBytes(frame), frameBytes(text('never'))]);
      const { alone, direct } = await both(bytes, [], options);
      expect(direct, code).to.deep.equal(alone);
      expect(direct, code).to.deep.equal([
        ['text', 'ok'],
        ['error', code],
      ]);
    }
  });

  it('reads nothing after a close frame, as ws', async () => {
    const bytes = Buffer.concat([
      frameBytes(text('one')),
      frameBytes({ opcode: 8, payload: Buffer.from([0x03, 0xe8, 0x62, 0x79, 0x65]) }),
      frameBytes(text('after close')),
    ]);
    for (const cuts of [[], [9], [bytes.length - 3]]) {
      const { alone, direct } = await both(bytes, cuts);
      expect(direct).to.deep.equal(alone);
      // A chunk written after the close is a stream error of the receiver's (write after end), not data.
      expect(direct.filter((e) => e[0] !== 'error')).to.deep.equal([
        ['text', 'one'],
        ['close', 1000, 'bye'],
      ]);
    }
  });

  it('reads a server’s unmasked frames on a client, and refuses masked ones as ws does', async () => {
    const bytes = Buffer.concat(
      [text('hi', { masked: false }), binary(randomBytes(300), { masked: false })].map(frameBytes),
    );
    for (let cut = 0; cut <= bytes.length; cut += 7) {
      const { alone, direct } = await both(bytes, [cut], { isServer: false });
      expect(direct).to.deep.equal(alone);
      expect(direct).to.have.length(2);
    }
    const masked = await both(frameBytes(text('hi')), [], { isServer: false });
    expect(masked.direct).to.deep.equal(masked.alone);
    expect(masked.direct).to.deep.equal([['error', 'WS_ERR_UNEXPECTED_MASK']]);
  });

  it('delivers through real sockets: 3,000 messages each way between connect() and listen(), in order', async () => {
    const { client, remote } = await openPair();
    const random = prng(16);
    const messages: (string | Uint8Array)[] = [];
    for (let i = 0; i < 3000; i++) {
      const kind = Math.floor(random() * 4);
      const size = i % 500 === 0 ? 70_000 : Math.floor(random() * 300);
      if (kind === 0) messages.push(`${i}:` + 'a'.repeat(size));
      else if (kind === 1) messages.push(`${i}:` + 'é€𝄞'.repeat(size >> 3));
      else messages.push(new Uint8Array(randomBytes(size)));
    }
    const asText = (p: Packet) => (p.isString ? `t${p.data}` : `b${Buffer.from(p.data).toString('hex')}`);
    const expected = messages.map((m) => (typeof m === 'string' ? `t${m}` : `b${Buffer.from(m).toString('hex')}`));
    for (const [from, to] of [
      [client.peer, remote],
      [remote, client.peer],
    ] as const) {
      const arrived = takeValues(to.packets$, messages.length);
      for (const m of messages) from.putPacket(typeof m === 'string' ? m : { isString: false, data: m });
      expect((await arrived).map(asText)).to.deep.equal(expected);
    }
  });
});
