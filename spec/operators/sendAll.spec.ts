import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { lastValueFrom } from 'rxjs';
import { sendAll, type SendProgress, type SendSource } from '../../src/operators/sendAll.js';
import { WriteMode } from '../../src/peer/constants.js';
import type { Packet } from '../../src/peer/types.js';
import type { WebSocketPeer } from '../../src/peer/WebSocketPeer.js';
import { WebSocketPeerError } from '../../src/errors/WebSocketPeerError.js';
import { collect, delay, internalsOf, openPair, stopAll, takeValues, until, expectInvalidOption } from '../helpers.js';

const KiB = 1024;
const MiB = 1024 * KiB;

/** `size` random bytes with `index` in the first 4, as a plain Uint8Array of its own. */
function chunk(index: number, size: number): Uint8Array {
  const bytes = new Uint8Array(randomBytes(size));
  new DataView(bytes.buffer).setUint32(0, index);
  return bytes;
}

const indexOf = (packet: Packet): number =>
  new DataView((packet.data as Uint8Array).buffer, (packet.data as Uint8Array).byteOffset).getUint32(0);

/**
 * Takes packets from `peer` until `done(packets, bytes)` holds: hashes their payloads as they
 * come (text as its UTF-8 bytes) and keeps their kinds and the index in their first 4 bytes.
 */
function receive(
  peer: WebSocketPeer,
  done: (packets: number, bytes: number) => boolean,
): Promise<{ sha256: string; bytes: number; kinds: boolean[]; indexes: number[] }> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    const kinds: boolean[] = [];
    const indexes: number[] = [];
    let bytes = 0;
    const subscription = peer.packets$.subscribe({
      next: (packet) => {
        const payload = packet.isString ? Buffer.from(packet.data) : packet.data;
        hash.update(payload);
        bytes += payload.byteLength;
        kinds.push(packet.isString);
        if (!packet.isString && payload.byteLength >= 4) indexes.push(indexOf(packet));
        if (done(kinds.length, bytes)) {
          subscription.unsubscribe();
          resolve({ sha256: hash.digest('hex'), bytes, kinds, indexes });
        }
      },
      error: reject,
      complete: () => reject(new Error(`packets$ completed after ${kinds.length} packet(s)`)),
    });
  });
}

/** Subscribes and resolves with the progress once it completes, and the buffered amount then. */
function run(
  peer: WebSocketPeer,
  source: SendSource,
  options = {},
): Promise<{ progress: SendProgress[]; bufferedAtEnd: number }> {
  return new Promise((resolve, reject) => {
    const progress: SendProgress[] = [];
    sendAll(peer, source, options).subscribe({
      next: (p) => progress.push(p),
      error: reject,
      complete: () => resolve({ progress, bufferedAtEnd: peer.getCurrentOutboundBufferedAmount() }),
    });
  });
}

const sha256 = (...parts: Uint8Array[]): string => {
  const hash = createHash('sha256');
  for (const part of parts) hash.update(part);
  return hash.digest('hex');
};

/** An empty source that counts every touch: `sendAll()` must not touch it before it starts. */
function countingSource(): { counting: Iterable<string>; touched: () => number } {
  let touched = 0;
  const counting: Iterable<string> = {
    [Symbol.iterator]: () => {
      touched++;
      return { next: () => (touched++, { done: true, value: undefined }) };
    },
  };
  return { counting, touched: () => touched };
}

describe('sendAll()', () => {
  afterEach(stopAll);

  describe('sources', () => {
    it('sends every item of a sync generator in order, byte-exact, counts progress, and completes once all is written', async () => {
      const { client, remote } = await openPair();
      const count = 2000;
      const size = 16 * KiB;
      const sent = createHash('sha256');
      let exhausted = false;
      function* items(): Generator<Uint8Array> {
        for (let i = 0; i < count; i++) {
          const bytes = chunk(i, size);
          sent.update(bytes);
          yield bytes;
        }
        exhausted = true;
      }
      const received = receive(client.peer, (n) => n === count);
      const { progress, bufferedAtEnd } = await run(remote, items());
      expect(exhausted).to.equal(true);
      // Completion means written to the OS: nothing of it waits in the peer any more.
      expect(bufferedAtEnd).to.equal(0);
      expect(internalsOf(remote).socket.writableLength).to.equal(0);
      expect(progress).to.have.length(count);
      progress.forEach((p, i) => {
        expect(p.packets).to.equal(i + 1);
        expect(p.bytes).to.equal((i + 1) * size);
        expect(p.bufferedAmount).to.be.a('number').and.at.least(0);
      });
      const got = await received;
      expect(got.kinds.every((isString) => !isString)).to.equal(true);
      expect(got.indexes).to.deep.equal([...Array(count).keys()]);
      expect(got.bytes).to.equal(count * size);
      expect(got.sha256).to.equal(sent.digest('hex'));
    });

    it('sends every item of an async generator, byte-exact', async () => {
      const { client, remote } = await openPair();
      const count = 600;
      const sent = createHash('sha256');
      async function* items(): AsyncGenerator<Uint8Array> {
        for (let i = 0; i < count; i++) {
          if (i % 100 === 0) await delay(1); // a source that really waits now and then
          const bytes = chunk(i, 8 * KiB + i); // sizes that do not line up with anything
          sent.update(bytes);
          yield bytes;
        }
      }
      const received = receive(client.peer, (n) => n === count);
      const { progress, bufferedAtEnd } = await run(remote, items());
      expect(bufferedAtEnd).to.equal(0);
      const total = count * 8 * KiB + (count * (count - 1)) / 2;
      expect(progress.at(-1)).to.include({ packets: count, bytes: total });
      const got = await received;
      expect(got.indexes).to.deep.equal([...Array(count).keys()]);
      expect(got.bytes).to.equal(total);
      expect(got.sha256).to.equal(sent.digest('hex'));
    });

    describe('from a file stream', () => {
      const file = join(tmpdir(), `sendAll-spec-${process.pid}-${Date.now()}.bin`);
      const size = 3 * MiB + 12_345; // not a whole number of the stream's 64 KiB chunks
      let content: Buffer;
      before(() => {
        writeFileSync(file, randomBytes(size));
        content = readFileSync(file);
      });
      after(() => rmSync(file, { force: true }));

      it('sends the file byte-exact, one message per chunk the stream reads', async () => {
        const { client, remote } = await openPair();
        const received = receive(client.peer, (_, bytes) => bytes >= size);
        const { progress, bufferedAtEnd } = await run(remote, createReadStream(file));
        expect(bufferedAtEnd).to.equal(0);
        const got = await received;
        expect(got.bytes).to.equal(size);
        expect(got.sha256).to.equal(sha256(content));
        expect(got.kinds.every((isString) => !isString)).to.equal(true);
        expect(progress.at(-1)).to.include({ packets: got.kinds.length, bytes: size });
        expect(got.kinds.length).to.equal(Math.ceil(size / (64 * KiB)));
      });
    });

    it('sends every chunk of a web ReadableStream of Uint8Arrays', async () => {
      const { client, remote } = await openPair();
      const chunks = Array.from({ length: 300 }, (_, i) => chunk(i, 4 * KiB + (i % 7)));
      let next = 0;
      const stream = new ReadableStream<Uint8Array>({
        pull(controller) {
          if (next === chunks.length) controller.close();
          else controller.enqueue(chunks[next++] as Uint8Array);
        },
      });
      const received = receive(client.peer, (n) => n === chunks.length);
      const { progress } = await run(remote, stream);
      expect(progress).to.have.length(chunks.length);
      const got = await received;
      expect(got.indexes).to.deep.equal([...chunks.keys()]);
      expect(got.sha256).to.equal(sha256(...chunks));
    });
  });

  describe('item types', () => {
    const text = 'héllo €';
    const utf8 = [...Buffer.from(text)];

    it('sends strings as text and bytes (Uint8Array, ArrayBuffer, other views) as binary by default, whatever the peer mode', async () => {
      const { client, remote } = await openPair();
      remote.setWriteMode(WriteMode.Binary); // sendAll goes by item type, not by the peer's mode
      const received = takeValues(client.peer.packets$, 4);
      await run(remote, [
        text,
        new Uint8Array([0, 255, 128]),
        new Uint8Array([1, 2, 3]).buffer,
        new Uint16Array([0x0102]),
      ]);
      const packets = await received;
      expect(packets[0]).to.deep.equal({ isString: true, data: text });
      expect(packets.slice(1).map((p) => p.isString)).to.deep.equal([false, false, false]);
      expect([...(packets[1]?.data as Uint8Array)]).to.deep.equal([0, 255, 128]);
      expect([...(packets[2]?.data as Uint8Array)]).to.deep.equal([1, 2, 3]);
      expect([...(packets[3]?.data as Uint8Array)]).to.deep.equal([
        ...new Uint8Array(new Uint16Array([0x0102]).buffer),
      ]);
      expect(remote.getWriteMode()).to.equal(WriteMode.Binary);
    });

    it('with writeMode Binary sends strings as their UTF-8 bytes, in binary frames', async () => {
      const { client, remote } = await openPair();
      const received = takeValues(client.peer.packets$, 2);
      const { progress } = await run(remote, [text, new Uint8Array([7])], { writeMode: WriteMode.Binary });
      const packets = await received;
      expect(packets.map((p) => p.isString)).to.deep.equal([false, false]);
      expect([...(packets[0]?.data as Uint8Array)]).to.deep.equal(utf8);
      expect([...(packets[1]?.data as Uint8Array)]).to.deep.equal([7]);
      expect(progress.at(-1)).to.include({ packets: 2, bytes: utf8.length + 1 });
      expect(remote.getWriteMode()).to.equal(WriteMode.Text); // the option does not change the peer
    });

    it('with writeMode Text sends UTF-8 bytes as text', async () => {
      const { client, remote } = await openPair();
      const received = takeValues(client.peer.packets$, 3);
      // A leading BOM must go through untouched as well.
      const withBom = new Uint8Array([0xef, 0xbb, 0xbf, 0x61]);
      const { progress } = await run(remote, [new Uint8Array(utf8), 'plain', withBom], { writeMode: WriteMode.Text });
      const packets = await received;
      expect(packets).to.deep.equal([
        { isString: true, data: text },
        { isString: true, data: 'plain' },
        { isString: true, data: '\ufeffa' },
      ]);
      expect(progress.at(-1)).to.include({ packets: 3, bytes: utf8.length + 5 + 4 });
    });

    it('with writeMode Text errors with ERR_INVALID_UTF8 on bytes that are not UTF-8, and sends nothing of them', async () => {
      const { client, remote } = await openPair();
      const packets = collect(client.peer.packets$);
      let pulledAfter = false;
      let finalized = false;
      function* items(): Generator<string | Uint8Array> {
        try {
          yield 'before';
          yield new Uint8Array([0x61, 0xff, 0x62]);
          pulledAfter = true;
          yield 'never';
        } finally {
          finalized = true;
        }
      }
      const { values, done } = collect(sendAll(remote, items(), { writeMode: WriteMode.Text }));
      const { error } = await done;
      expect(error).to.be.instanceOf(TypeError).with.property('code', 'ERR_INVALID_UTF8');
      expect(values.map((p) => p.packets)).to.deep.equal([1]);
      expect(pulledAfter).to.equal(false);
      expect(finalized).to.equal(true);
      // The connection is fine (an invalid text frame would have closed it with 1007) and the
      // next message is the next thing the other side sees.
      remote.putPacket('after');
      await until(() => packets.values.length === 2);
      await delay(20);
      expect(packets.values).to.deep.equal([
        { isString: true, data: 'before' },
        { isString: true, data: 'after' },
      ]);
      expect(remote.isConnectedToHost()).to.equal(true);
    });
  });

  describe('flow control', () => {
    it('pulls only as fast as the other side reads, bounded by the high water mark, and then sends everything', async () => {
      const size = 16 * KiB;
      const count = 10_000; // 160 MiB the generator could give
      const highWaterMark = 64 * KiB;
      // The receiving peer stops reading the socket as soon as 4 packets / 64 KiB wait in it.
      const { client, remote } = await openPair({}, { maxQueuedPackets: 4, maxQueuedBytes: 64 * KiB });
      let pulled = 0;
      function* items(): Generator<Uint8Array> {
        for (let i = 0; i < count; i++) {
          pulled++;
          const bytes = new Uint8Array(size);
          new DataView(bytes.buffer).setUint32(0, i);
          yield bytes;
        }
      }
      let maxBuffered = 0;
      remote.bufferedAmount$.subscribe((amount) => {
        maxBuffered = Math.max(maxBuffered, amount);
      });
      const progress = collect(sendAll(remote, items(), { highWaterMark, lowWaterMark: 32 * KiB }));
      await until(() => internalsOf(client.peer).ws.isPaused);
      await delay(300);
      const pulledThen = pulled;
      await delay(200);
      // Not drained: it stopped pulling once the OS buffers on both sides, the receiver's
      // queue and the high water mark were full (a few MiB on loopback), far from 160 MiB.
      expect(pulled).to.equal(pulledThen);
      expect(pulled * size).to.be.below((count * size) / 10);
      expect(remote.getCurrentOutboundBufferedAmount()).to.be.above(32 * KiB); // waiting for the low mark
      expect(progress.values).to.have.length(pulled);
      expect(maxBuffered).to.be.at.most(highWaterMark + size);

      const received = receive(client.peer, (n) => n === count);
      const got = await received;
      const { error } = await progress.done;
      expect(error).to.equal(undefined);
      expect(pulled).to.equal(count);
      expect(got.indexes).to.deep.equal([...Array(count).keys()]);
      expect(maxBuffered).to.be.at.most(highWaterMark + size);
      expect(remote.getCurrentOutboundBufferedAmount()).to.equal(0);
    });
  });

  describe('unsubscribing', () => {
    for (const kind of ['sync', 'async'] as const) {
      it(`stops pulling and runs the ${kind} generator's finally block`, async () => {
        const { client, remote } = await openPair();
        let pulled = 0;
        let finalized = false;
        const item = (): string => `item ${pulled++}`;
        const source =
          kind === 'sync'
            ? (function* () {
                try {
                  for (;;) yield item();
                } finally {
                  finalized = true;
                }
              })()
            : (async function* () {
                try {
                  for (;;) yield item();
                } finally {
                  finalized = true;
                }
              })();
        const progress = await takeValues(sendAll(remote, source), 5);
        expect(progress.map((p) => p.packets)).to.deep.equal([1, 2, 3, 4, 5]);
        await until(() => finalized);
        expect(pulled).to.equal(5);
        const received = collect(client.peer.packets$);
        await delay(50);
        expect(pulled).to.equal(5);
        expect(received.values.map((p) => p.data)).to.deep.equal(['item 0', 'item 1', 'item 2', 'item 3', 'item 4']);
      });
    }

    it('lets the event loop run while the kernel takes every write at once, even for empty items', async () => {
      const { remote } = await openPair();
      let pulled = 0;
      let finalized = false;
      const endless = (function* () {
        try {
          for (;;) {
            pulled++;
            yield ''; // adds nothing to the buffer: the high mark is never reached
          }
        } finally {
          finalized = true;
        }
      })();
      const subscription = sendAll(remote, endless).subscribe();
      await delay(30); // a timer that could not fire if sendAll kept the event loop to itself
      subscription.unsubscribe();
      const pulledThen = pulled;
      expect(pulledThen).to.be.above(64);
      expect(finalized).to.equal(true);
      await delay(20);
      expect(pulled).to.equal(pulledThen);
    });

    it('sends at most 64 items a turn, so that the peer keeps the arrays of its write log', async () => {
      const { remote } = await openPair();
      // The write log drops arrays longer than 64 slots once it empties; dropped each turn, new
      // ones outlived a scavenge, and the growth after that was promoted with them (about 18 MiB
      // in the load suite's client, docs/performance.md).
      const log = (): unknown => (remote as unknown as { writes?: { items: unknown[] } }).writes?.items;
      let turn = 0;
      const perTurn: number[] = [];
      const logs = new Set<unknown>();
      let ticking = true;
      const tick = (): void => {
        if (log() !== undefined) logs.add(log());
        turn++;
        if (ticking) setImmediate(tick);
      };
      setImmediate(tick);
      function* items(): Generator<string> {
        for (let i = 0; i < 1000; i++) {
          perTurn[turn] = (perTurn[turn] ?? 0) + 1;
          yield 'x';
        }
      }
      await lastValueFrom(sendAll(remote, items()));
      ticking = false;
      expect(Math.max(...perTurn.filter((n) => n !== undefined))).to.equal(64);
      expect(logs.size, 'arrays the write log had').to.equal(1);
    });

    it('while it waits for the buffer to drain: stops, and runs the finally block', async () => {
      const { client, remote } = await openPair({}, { maxQueuedPackets: 2 });
      let pulled = 0;
      let finalized = false;
      function* items(): Generator<Uint8Array> {
        try {
          for (;;) {
            pulled++;
            yield new Uint8Array(16 * KiB);
          }
        } finally {
          finalized = true;
        }
      }
      const subscription = sendAll(remote, items(), { highWaterMark: 32 * KiB }).subscribe();
      await until(() => remote.getCurrentOutboundBufferedAmount() >= 16 * KiB && internalsOf(client.peer).ws.isPaused);
      await delay(50);
      const pulledThen = pulled;
      subscription.unsubscribe();
      expect(finalized).to.equal(true);
      // The reader catches up: nothing more is pulled for it.
      client.peer.packets$.subscribe({ error: () => {} });
      await until(() => remote.getCurrentOutboundBufferedAmount() === 0);
      await delay(50);
      expect(pulled).to.equal(pulledThen);
    });

    it('while an async item is on its way: does not send it, and runs the finally block', async () => {
      const { client, remote } = await openPair();
      let finalized = false;
      let resumed = false;
      let release: () => void = () => {};
      async function* items(): AsyncGenerator<string> {
        try {
          yield 'first';
          await new Promise<void>((resolve) => (release = resolve));
          resumed = true;
          yield 'second';
          yield 'third';
        } finally {
          finalized = true;
        }
      }
      const received = collect(client.peer.packets$);
      const progress: SendProgress[] = [];
      const subscription = sendAll(remote, items()).subscribe((p) => progress.push(p));
      await until(() => progress.length === 1 && received.values.length === 1);
      await delay(20); // the second next() is pending now
      subscription.unsubscribe();
      expect(finalized).to.equal(false); // return() waits for the pending next()
      release();
      await until(() => finalized);
      await delay(30);
      expect(resumed).to.equal(true);
      expect(progress).to.have.length(1);
      expect(received.values.map((p) => p.data)).to.deep.equal(['first']);
    });
  });

  describe('errors', () => {
    for (const kind of ['sync', 'async'] as const) {
      it(`errors with what the ${kind} source throws, after sending the items before it`, async () => {
        const { client, remote } = await openPair();
        const boom = new Error('boom');
        const source =
          kind === 'sync'
            ? (function* () {
                yield 'a';
                yield 'b';
                yield 'c';
                throw boom;
              })()
            : (async function* () {
                yield 'a';
                yield 'b';
                yield 'c';
                throw boom;
              })();
        const received = takeValues(client.peer.packets$, 3);
        const { values, done } = collect(sendAll(remote, source));
        expect((await done).error).to.equal(boom);
        expect(values.map((p) => p.packets)).to.deep.equal([1, 2, 3]);
        expect((await received).map((p) => p.data)).to.deep.equal(['a', 'b', 'c']);
      });
    }

    it('errors with ERR_INVALID_DATA on an item that is not a string or bytes, and stops there', async () => {
      const { client, remote } = await openPair();
      let finalized = false;
      function* items(): Generator<unknown> {
        try {
          yield 'a';
          yield 42;
          yield 'b';
        } finally {
          finalized = true;
        }
      }
      const received = collect(client.peer.packets$);
      const { values, done } = collect(sendAll(remote, items() as Iterable<string>));
      const { error } = await done;
      expect(error).to.be.instanceOf(TypeError).with.property('code', 'ERR_INVALID_DATA');
      expect(values.map((p) => p.packets)).to.deep.equal([1]);
      expect(finalized).to.equal(true);
      await delay(30);
      expect(received.values.map((p) => p.data)).to.deep.equal(['a']);
    });

    it("errors with its own error even when the source's cleanup throws too", async () => {
      const { remote } = await openPair();
      function* items(): Generator<unknown> {
        try {
          yield 'a';
          yield 42;
        } finally {
          // eslint-disable-next-line no-unsafe-finally -- the point: a source whose cleanup throws
          throw new Error('cleanup failed');
        }
      }
      const { done } = collect(sendAll(remote, items() as Iterable<string>));
      const { error } = await done;
      expect(error).to.be.instanceOf(TypeError).with.property('code', 'ERR_INVALID_DATA');
      // Unsubscribing runs the same cleanup: it does not throw at the caller either.
      const endless = (function* () {
        try {
          for (;;) yield 'x';
        } finally {
          // eslint-disable-next-line no-unsafe-finally -- the point: a source whose cleanup throws
          throw new Error('cleanup failed');
        }
      })();
      const subscription = sendAll(remote, endless).subscribe();
      expect(() => subscription.unsubscribe()).not.to.throw();
    });

    it('errors with ERR_PEER_CLOSED when the other side closes while it sends', async () => {
      const { client, remote } = await openPair();
      let pulled = 0;
      let finalized = false;
      function* items(): Generator<Uint8Array> {
        try {
          for (let i = 0; i < 100_000; i++) {
            pulled++;
            yield new Uint8Array(16 * KiB);
          }
        } finally {
          finalized = true;
        }
      }
      let taken = 0;
      client.peer.packets$.subscribe({
        next: () => {
          if (++taken === 20) client.peer.close(4000, 'enough');
        },
        error: () => {},
      });
      const { values, done } = collect(sendAll(remote, items(), { highWaterMark: 64 * KiB }));
      const { error } = await done;
      expect(error).to.be.instanceOf(WebSocketPeerError).with.property('code', 'ERR_PEER_CLOSED');
      expect(values.length).to.be.at.least(20).and.below(100_000);
      expect(finalized).to.equal(true);
      expect(pulled).to.be.below(100_000);
      expect((await takeValues(remote.closed$, 1))[0]).to.deep.equal({ code: 4000, reason: 'enough', wasClean: true });
    });
  });

  describe('arguments', () => {
    it('throws synchronously for a bad peer, source, marks or write mode, and pulls nothing', async () => {
      const { client } = await openPair();
      const { counting, touched } = countingSource();
      const bad = (fn: () => unknown) => expect(fn).to.throw();
      for (const peer of [null, undefined, {}, { putPacket() {} }, 'peer']) {
        bad(() => sendAll(peer as unknown as WebSocketPeer, counting))
          .that.is.instanceOf(TypeError)
          .with.property('code', 'ERR_INVALID_ARG_TYPE');
      }
      for (const source of [null, undefined, 42, {}, () => [], 'text']) {
        bad(() => sendAll(client.peer, source as unknown as SendSource))
          .that.is.instanceOf(TypeError)
          .with.property('code', 'ERR_INVALID_ARG_TYPE');
      }
      for (const marks of [
        { highWaterMark: 100, lowWaterMark: 200 },
        { lowWaterMark: 2 * MiB }, // above the default high mark
        { highWaterMark: 0 },
      ]) {
        bad(() => sendAll(client.peer, counting, marks))
          .that.is.instanceOf(RangeError)
          .with.property('code', 'ERR_INVALID_OPTION');
      }
      for (const marks of [
        { highWaterMark: -1 },
        { lowWaterMark: -5 },
        { highWaterMark: 1.5 },
        { lowWaterMark: 0.5 },
        { highWaterMark: '1024' },
      ]) {
        bad(() => sendAll(client.peer, counting, marks as object))
          .that.is.instanceOf(TypeError)
          .with.property('code', 'ERR_INVALID_OPTION');
      }
      for (const writeMode of [2, -1, 'text', 0.5]) {
        bad(() => sendAll(client.peer, counting, { writeMode: writeMode as WriteMode })).that.is.instanceOf(RangeError);
      }
      expect(touched()).to.equal(0);
    });

    it('throws ERR_INVALID_OPTION for an unknown key, naming the nearest known one, and pulls nothing', async () => {
      const { client } = await openPair();
      const { counting, touched } = countingSource();
      expectInvalidOption(
        () => sendAll(client.peer, counting, { lowWaterMarks: 1024 } as never),
        "sendAll(): unknown option 'lowWaterMarks' (did you mean 'lowWaterMark'?)",
      );
      expectInvalidOption(
        () => sendAll(client.peer, counting, { mode: WriteMode.Binary } as never),
        "sendAll(): unknown option 'mode' (did you mean 'writeMode'?)",
      );
      expectInvalidOption(
        () => sendAll(client.peer, counting, { chunkSize: 65536 } as never),
        "sendAll(): unknown option 'chunkSize'",
      );
      // backpressure()'s options are not sendAll()'s: it holds nothing, it pulls.
      expectInvalidOption(
        () => sendAll(client.peer, counting, { maxHeldBytes: 1024 } as never),
        "sendAll(): unknown option 'maxHeldBytes'",
      );
      expect(touched()).to.equal(0);
      const known = { highWaterMark: undefined, lowWaterMark: undefined, writeMode: undefined };
      expect(() => sendAll(client.peer, counting, known)).not.to.throw();
      expect(() => sendAll(client.peer, counting, undefined)).not.to.throw();
    });

    it('is cold: nothing is pulled before subscribe', async () => {
      const { client, remote } = await openPair();
      let iterators = 0;
      let pulls = 0;
      const source: Iterable<string> = {
        [Symbol.iterator]: () => {
          iterators++;
          let i = 0;
          return {
            next: () => (pulls++, i < 3 ? { done: false, value: `m${i++}` } : { done: true, value: undefined }),
          };
        },
      };
      const sending = sendAll(remote, source);
      await delay(50);
      expect([iterators, pulls]).to.deep.equal([0, 0]);
      expect(client.peer.getAvailablePacketCount()).to.equal(0);
      const received = takeValues(client.peer.packets$, 3);
      const progress = collect(sending);
      expect(await progress.done).to.deep.equal({});
      expect(progress.values.map((p) => p.packets)).to.deep.equal([1, 2, 3]);
      expect([iterators, pulls]).to.deep.equal([1, 4]);
      expect((await received).map((p) => p.data)).to.deep.equal(['m0', 'm1', 'm2']);
    });
  });
});
