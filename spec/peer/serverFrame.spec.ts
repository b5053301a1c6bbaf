import { expect } from 'chai';
import * as ws from 'ws';
import { utf8Length } from '../../src/internal/bytes.js';
import { serverFrame } from '../../src/peer/serverFrame.js';

/** The frame `ws` makes for the same message on a server (unmasked), as one buffer. */
function wsFrame(data: string | Uint8Array, asText: boolean): Buffer {
  // ws's framing, which its types do not declare.
  const { Sender } = ws as unknown as { Sender: { frame(data: Buffer, options: object): Buffer[] } };
  const parts = Sender.frame(typeof data === 'string' ? Buffer.from(data) : Buffer.from(data), {
    fin: true,
    opcode: asText ? 1 : 2,
    mask: false,
    readOnly: false,
    rsv1: false,
  });
  return Buffer.concat(parts);
}

describe('serverFrame()', () => {
  // Each size at the edges of the three length forms of RFC 6455 §5.2 (7 bits, 16, 64).
  const sizes = [0, 1, 125, 126, 127, 1000, 65_535, 65_536, 70_000];

  for (const size of sizes) {
    it(`frames ${size} bytes as ws frames them on a server, text and binary`, () => {
      const bytes = new Uint8Array(size).map((_, i) => (i * 31 + 7) & 0xff);
      for (const asText of [true, false]) {
        const frame = serverFrame(bytes, asText, bytes.byteLength);
        expect(
          Buffer.from(frame).equals(wsFrame(bytes, asText)),
          `${size} bytes, ${asText ? 'text' : 'binary'}`,
        ).to.equal(true);
      }
    });
  }

  it('frames a string as its UTF-8 bytes, a lone surrogate as U+FFFD, as ws does', () => {
    for (const text of ['', 'a', 'é€😀', 'x'.repeat(200), '€'.repeat(30_000), 'lone \ud800 surrogate', 'end\udc00']) {
      const frame = serverFrame(text, true, utf8Length(text));
      expect(Buffer.from(frame).equals(wsFrame(text, true)), JSON.stringify(text.slice(0, 20))).to.equal(true);
    }
  });

  it('takes bytes at an offset into a larger buffer, and copies them: changing them later changes no frame', () => {
    const backing = new Uint8Array(300).fill(9);
    const view = backing.subarray(100, 230);
    view.fill(1);
    const frame = serverFrame(view, false, view.byteLength);
    backing.fill(2);
    expect([...frame.subarray(4)]).to.deep.equal(new Array(130).fill(1));
    expect([...frame.subarray(0, 4)]).to.deep.equal([0x82, 126, 0, 130]);
  });

  it('is a Buffer in Node, so that a socket takes it without a view made per write', () => {
    expect(Buffer.isBuffer(serverFrame('hi', true, 2))).to.equal(true);
  });
});
