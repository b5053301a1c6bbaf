import { createRequire } from 'node:module';
import { expect } from 'chai';
import { clientFrame, findNativeMasking, useNativeMasking } from '../../../src/transport/node/clientFrame.js';

/** Reads one frame back by RFC 6455 §5.2, by hand: what a server does with it. */
function parse(frame: Buffer): { fin: boolean; rsv: number; opcode: number; key: Buffer; payload: Buffer } {
  const fin = (frame[0] as number) >> 7 === 1;
  const rsv = ((frame[0] as number) >> 4) & 0x7;
  const opcode = (frame[0] as number) & 0xf;
  expect((frame[1] as number) >> 7, 'the MASK bit').to.equal(1);
  let length = (frame[1] as number) & 0x7f;
  let at = 2;
  if (length === 126) {
    length = frame.readUInt16BE(2);
    expect(length, 'the shortest length form').to.be.at.least(126);
    at = 4;
  } else if (length === 127) {
    length = Number(frame.readBigUInt64BE(2));
    expect(length, 'the shortest length form').to.be.at.least(0x10000);
    at = 10;
  }
  const key = frame.subarray(at, at + 4);
  at += 4;
  expect(frame.length - at, 'payload bytes after the header').to.equal(length);
  const payload = Buffer.from(frame.subarray(at).map((byte, i) => byte ^ (key[i & 3] as number)));
  return { fin, rsv, opcode, key: Buffer.from(key), payload };
}

describe('clientFrame()', () => {
  const lengths = [0, 1, 3, 4, 5, 125, 126, 127, 128, 129, 1000, 65_535, 65_536, 70_001];

  // bufferutil is a devDependency: the specs mask with it (where its addon loads), and in JS.
  it('uses bufferutil exactly where ws does: installed, its addon loaded (not its JS fallback), WS_NO_BUFFER_UTIL unset', async () => {
    const require = createRequire(import.meta.url);
    const addonLoads = !process.env['WS_NO_BUFFER_UTIL'] && require('bufferutil') !== require('bufferutil/fallback.js');
    expect(await findNativeMasking()).to.equal(addonLoads);
  });

  for (const masking of ['bufferutil', 'JS'] as const) {
    describe(`masked by ${masking}`, () => {
      before(async () => {
        await findNativeMasking();
        useNativeMasking(masking === 'bufferutil');
      });
      after(() => useNativeMasking(true));

      for (const length of lengths) {
        it(`frames ${length} bytes, binary and as text, masked, with the shortest length`, () => {
          const bytes = Uint8Array.from({ length }, (_, i) => (i * 7 + 3) & 0xff);
          const binary = parse(clientFrame(bytes, false));
          expect([binary.fin, binary.rsv, binary.opcode]).to.deep.equal([true, 0, 2]);
          expect(binary.payload.equals(Buffer.from(bytes))).to.equal(true);

          const text = 'a€😀'.repeat(Math.ceil(length / 3)).slice(0, length);
          const frame = parse(clientFrame(text, true));
          expect([frame.fin, frame.rsv, frame.opcode]).to.deep.equal([true, 0, 1]);
          expect(frame.payload.equals(Buffer.from(text, 'utf8'))).to.equal(true);

          // ASCII, which short strings encode in JS, from NUL to DEL.
          const ascii = String.fromCharCode(...Array.from({ length }, (_, i) => (i * 37) & 0x7f));
          expect(parse(clientFrame(ascii, true)).payload.equals(Buffer.from(ascii, 'latin1'))).to.equal(true);
        });
      }

      it('reads a view at any offset in its buffer, and leaves the caller the bytes it gave', () => {
        const backing = new Uint8Array(2000).map((_, i) => i & 0xff);
        for (const [offset, length] of [
          [1, 100],
          [3, 1000],
          [4, 1001],
          [5, 129],
          [7, 7],
        ] as const) {
          const view = backing.subarray(offset, offset + length);
          const copy = Buffer.from(view);
          expect(parse(clientFrame(view, false)).payload.equals(copy)).to.equal(true);
          expect(Buffer.from(view).equals(copy), 'the source is not masked in place').to.equal(true);
        }
      });
    });
  }

  it('sends a lone surrogate as U+FFFD, as ws and every encoder do', () => {
    expect([...parse(clientFrame('a\ud800b', true)).payload]).to.deep.equal([0x61, 0xef, 0xbf, 0xbd, 0x62]);
  });

  it('makes a fresh key for every frame, also after the random pool is used up', () => {
    const keys = new Set<string>();
    // 8 KiB of random bytes make 2,048 keys: 5,000 frames refill the pool twice.
    for (let i = 0; i < 5000; i++) keys.add(parse(clientFrame('x', true)).key.toString('hex'));
    // 5,000 random 32-bit keys collide with a chance of about 0.3%: allow a few.
    expect(keys.size).to.be.at.least(4990);
  });

  it('gives each frame a buffer of its own', () => {
    const first = clientFrame('one', true);
    const copy = Buffer.from(first);
    clientFrame('two', true);
    clientFrame(new Uint8Array(5000), false);
    expect(first.equals(copy)).to.equal(true);
  });
});
