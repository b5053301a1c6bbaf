import { expect } from 'chai';
import { of } from 'rxjs';
import { consumePackets } from '../../src/operators/consumePackets.js';
import { sendAll } from '../../src/operators/sendAll.js';
import type { Packet } from '../../src/peer/types.js';
import { WebSocketCloseError } from '../../src/errors/WebSocketCloseError.js';
import type { WebSocketPeer } from '../../src/peer/WebSocketPeer.js';
import {
  collect,
  delay,
  inboxWatcherCount,
  internalsOf,
  openPair,
  stopAll,
  takeValues,
  until,
  expectInvalidOption,
} from '../helpers.js';

/** Sends `m0` .. `m{count-1}` as text from `peer`, starting at `from`. */
function sendTexts(peer: WebSocketPeer, count: number, from = 0): void {
  for (let i = from; i < from + count; i++) peer.putPacket(`m${i}`);
}

const texts = (count: number, from = 0): string[] => Array.from({ length: count }, (_, i) => `m${from + i}`);

const dataOf = (packet: Packet | undefined): unknown => packet?.data;

describe('consumePackets()', () => {
  afterEach(stopAll);

  describe('pace', () => {
    it('handles one packet at a time by default, in order', async () => {
      const { client, remote } = await openPair();
      let running = 0;
      let maxRunning = 0;
      const results = takeValues(
        consumePackets(remote, async (packet, index) => {
          running++;
          maxRunning = Math.max(maxRunning, running);
          await delay(3);
          running--;
          return `${index}:${String(packet.data)}`;
        }),
        20,
      );
      sendTexts(client.peer, 20);
      expect(await results).to.deep.equal(texts(20).map((t, i) => `${i}:${t}`));
      expect(maxRunning).to.equal(1);
    });

    it('handles up to `concurrency` packets at once', async () => {
      const { client, remote } = await openPair();
      sendTexts(client.peer, 12);
      await until(() => remote.getAvailablePacketCount() === 12);
      let running = 0;
      let maxRunning = 0;
      const results = takeValues(
        consumePackets(
          remote,
          async (packet) => {
            running++;
            maxRunning = Math.max(maxRunning, running);
            await delay(10);
            running--;
            return packet.data;
          },
          { concurrency: 3 },
        ),
        12,
      );
      expect([...(await results)].sort()).to.deep.equal(texts(12).sort());
      expect(maxRunning).to.be.at.most(3).and.at.least(2);
      expect(remote.getAvailablePacketCount()).to.equal(0);
    });

    it('keeps memory bounded end to end: the peer stops reading while the handler is slow, and all arrive in order', async () => {
      const count = 2000;
      const size = 8 * 1024;
      const bound = 64;
      // The client receives: its queue holds at most `bound` packets before it stops reading.
      const { client, remote } = await openPair({}, { maxQueuedPackets: bound });
      const receiver = client.peer;
      function* items(): Generator<Uint8Array> {
        for (let i = 0; i < count; i++) {
          const bytes = new Uint8Array(size);
          new DataView(bytes.buffer).setUint32(0, i);
          yield bytes;
        }
      }
      const sending = collect(sendAll(remote, items()));
      const order: number[] = [];
      let maxWaiting = 0;
      let pausedSeen = 0;
      const done = collect(
        consumePackets(receiver, async (packet) => {
          maxWaiting = Math.max(maxWaiting, receiver.getAvailablePacketCount());
          if (internalsOf(receiver).ws.isPaused) pausedSeen++;
          const bytes = packet.data as Uint8Array;
          order.push(new DataView(bytes.buffer, bytes.byteOffset).getUint32(0));
          await delay(1);
          if (order.length === count) receiver.close();
        }),
      );
      expect(await done.done).to.deep.equal({});
      expect(await sending.done).to.deep.equal({});
      expect(order).to.deep.equal([...Array(count).keys()]);
      // The peer stops reading once `bound` packets wait; the frames of the socket read in hand
      // still land. Node reads at most 64 KiB at a time, so that is at most 8 more messages of
      // 8 KiB (+ 4 header bytes each), 9 with one completed from the read before: 16 leaves room.
      expect(maxWaiting)
        .to.be.at.least(bound / 2)
        .and.at.most(bound + 16);
      expect(pausedSeen).to.be.at.least(1);
    });
  });

  describe('packets', () => {
    it('handles the packets that arrived before subscribe', async () => {
      const { client, remote } = await openPair();
      sendTexts(client.peer, 5);
      await until(() => remote.getAvailablePacketCount() === 5);
      await delay(20);
      const seen: unknown[] = [];
      const results = await takeValues(
        consumePackets(remote, (packet) => {
          seen.push(packet.data);
          return of(packet.data);
        }),
        5,
      );
      expect(results).to.deep.equal(texts(5));
      expect(seen).to.deep.equal(texts(5));
      expect(remote.getAvailablePacketCount()).to.equal(0);
    });

    it('follows each packet it takes with wasStringPacket()', async () => {
      const { client, remote } = await openPair();
      const kinds = [true, false, false, true, false, true];
      for (const [i, isString] of kinds.entries()) {
        client.peer.putPacket(isString ? { isString, data: `t${i}` } : { isString, data: new Uint8Array([i]) });
      }
      const seen = await takeValues(
        consumePackets(remote, (packet) => of([packet.isString, remote.wasStringPacket()])),
        kinds.length,
      );
      expect(seen).to.deep.equal(kinds.map((k) => [k, k]));
    });

    it('emits what the handler returns: a plain value, a Promise, every value of an Observable', async () => {
      const { client, remote } = await openPair();
      sendTexts(client.peer, 5);
      await until(() => remote.getAvailablePacketCount() === 5);
      const results = await takeValues(
        consumePackets(remote, (packet, index): unknown => {
          switch (index) {
            case 0:
              return 42;
            case 1:
              return packet.data; // a string: one value, not one per character
            case 2:
              return Promise.resolve({ from: 'promise' });
            case 3:
              return of('a', 'b', 'c');
            default:
              return undefined; // a handler that returns nothing
          }
        }),
        7,
      );
      expect(results).to.deep.equal([42, 'm1', { from: 'promise' }, 'a', 'b', 'c', undefined]);
    });

    it('emits undefined for a handler that returns nothing, and handles every packet', async () => {
      const { client, remote } = await openPair();
      const seen: unknown[] = [];
      const results = takeValues(
        consumePackets(remote, (packet) => {
          seen.push(packet.data);
        }),
        3,
      );
      sendTexts(client.peer, 3);
      expect(await results).to.deep.equal([undefined, undefined, undefined]);
      expect(seen).to.deep.equal(texts(3));
    });
  });

  describe('ends', () => {
    it('completes after a clean close, once every packet was handled, including those still waiting at close time', async () => {
      const { client, remote } = await openPair();
      const handled: unknown[] = [];
      let waitingAtClose = -1;
      let handledAtClose = -1;
      remote.closed$.subscribe(() => {
        waitingAtClose = remote.getAvailablePacketCount();
        handledAtClose = handled.length;
      });
      const results = collect(
        consumePackets(remote, async (packet) => {
          await delay(5);
          handled.push(packet.data);
          return packet.data;
        }),
      );
      sendTexts(client.peer, 10);
      client.peer.close(1000, 'done');
      expect(await results.done).to.deep.equal({});
      expect(waitingAtClose).to.be.at.least(1);
      expect(handledAtClose).to.be.below(10);
      expect(handled).to.deep.equal(texts(10));
      expect(results.values).to.deep.equal(texts(10));
    });

    it('errors with WebSocketCloseError 1006 after an abrupt end, once the packets that arrived before were handled', async () => {
      const { client, remote } = await openPair();
      const handled: unknown[] = [];
      const results = collect(
        consumePackets(remote, async (packet) => {
          await delay(20);
          handled.push(packet.data);
          return packet.data;
        }),
      );
      sendTexts(client.peer, 4);
      // All four are in the peer (one being handled, three waiting) before the reset.
      await until(() => remote.getAvailablePacketCount() === 3);
      internalsOf(client.peer).socket.resetAndDestroy();
      const { error } = await results.done;
      expect(error).to.be.instanceOf(WebSocketCloseError);
      expect(error).to.include({ code: 1006, wasClean: false });
      expect(handled).to.deep.equal(texts(4));
      expect(results.values).to.deep.equal(texts(4));
    });

    for (const how of ['throws', 'rejects'] as const) {
      it(`errors when the handler ${how}, and leaves the packets it did not take in the peer`, async () => {
        const { client, remote } = await openPair();
        sendTexts(client.peer, 5);
        await until(() => remote.getAvailablePacketCount() === 5);
        const boom = new Error('boom');
        const calls: unknown[] = [];
        const results = collect(
          consumePackets(
            remote,
            how === 'throws'
              ? (packet, index) => {
                  calls.push(packet.data);
                  if (index === 1) throw boom;
                  return of(packet.data);
                }
              : async (packet, index) => {
                  calls.push(packet.data);
                  await delay(2);
                  if (index === 1) throw boom;
                  return packet.data;
                },
          ),
        );
        expect((await results.done).error).to.equal(boom);
        expect(results.values).to.deep.equal(['m0']);
        expect(calls).to.deep.equal(['m0', 'm1']);
        await delay(20);
        expect(remote.getAvailablePacketCount()).to.equal(3);
        expect([remote.getPacket(), remote.getPacket(), remote.getPacket()].map(dataOf)).to.deep.equal([
          'm2',
          'm3',
          'm4',
        ]);
        expect(inboxWatcherCount(remote)).to.equal(0);
      });
    }

    it('stops taking when unsubscribed: later packets stay in the peer for getPacket()', async () => {
      const { client, remote } = await openPair();
      const calls: unknown[] = [];
      const subscription = consumePackets(remote, (packet) => {
        calls.push(packet.data);
        return of(packet.data);
      }).subscribe();
      sendTexts(client.peer, 2);
      await until(() => calls.length === 2);
      subscription.unsubscribe();
      sendTexts(client.peer, 3, 2);
      await until(() => remote.getAvailablePacketCount() === 3);
      await delay(20);
      expect(calls).to.deep.equal(texts(2));
      expect([remote.getPacket(), remote.getPacket(), remote.getPacket()].map(dataOf)).to.deep.equal(texts(3, 2));
      expect(remote.getPacket()).to.equal(undefined);
    });

    it('stops when unsubscribed while a handler runs: drops its result and takes no more', async () => {
      const { client, remote } = await openPair();
      sendTexts(client.peer, 4);
      await until(() => remote.getAvailablePacketCount() === 4);
      const calls: unknown[] = [];
      const emitted: unknown[] = [];
      let finished = false;
      const subscription = consumePackets(remote, async (packet) => {
        calls.push(packet.data);
        await delay(30);
        finished = true;
        return packet.data;
      }).subscribe((value) => emitted.push(value));
      expect(calls).to.deep.equal(['m0']); // taken at once on subscribe
      subscription.unsubscribe();
      await until(() => finished);
      await delay(20);
      expect(calls).to.deep.equal(['m0']);
      expect(emitted).to.deep.equal([]);
      expect(remote.getAvailablePacketCount()).to.equal(3);
    });
  });

  describe('listeners', () => {
    it('leaves no watcher on the peer after completing, erroring or unsubscribing', async () => {
      const { client, remote } = await openPair();
      expect(inboxWatcherCount(remote)).to.equal(0);

      const first = consumePackets(remote, (packet) => of(packet.data)).subscribe();
      const second = collect(consumePackets(remote, () => Promise.reject(new Error('no'))));
      expect(inboxWatcherCount(remote)).to.equal(2);
      first.unsubscribe();
      expect(inboxWatcherCount(remote)).to.equal(1);
      client.peer.putPacket('x');
      expect((await second.done).error).to.have.property('message', 'no');
      expect(inboxWatcherCount(remote)).to.equal(0);

      const third = collect(consumePackets(remote, (packet) => of(packet.data)));
      expect(inboxWatcherCount(remote)).to.equal(1);
      client.peer.close();
      expect(await third.done).to.deep.equal({});
      expect(inboxWatcherCount(remote)).to.equal(0);
    });
  });

  describe('arguments', () => {
    it('throws synchronously for a bad peer, handler or concurrency, and takes nothing', async () => {
      const { client, remote } = await openPair();
      client.peer.putPacket('waiting');
      await until(() => remote.getAvailablePacketCount() === 1);
      const handler = (packet: Packet): Packet[] => [packet];
      for (const peer of [null, undefined, {}, { getPacket() {} }, 'peer']) {
        expect(() => consumePackets(peer as unknown as WebSocketPeer, handler))
          .to.throw(TypeError)
          .with.property('code', 'ERR_INVALID_ARG_TYPE');
      }
      for (const bad of [undefined, null, 'handler', 42, {}]) {
        expect(() => consumePackets(remote, bad as unknown as typeof handler))
          .to.throw(TypeError)
          .with.property('code', 'ERR_INVALID_ARG_TYPE');
      }
      for (const concurrency of [0, 1.5, -1, Number.NaN, Number.POSITIVE_INFINITY, '2']) {
        expect(() => consumePackets(remote, handler, { concurrency: concurrency as number }))
          .to.throw(TypeError)
          .with.property('code', 'ERR_INVALID_OPTION');
      }
      expect(remote.getAvailablePacketCount()).to.equal(1);
      expect(inboxWatcherCount(remote)).to.equal(0);
    });

    it('throws ERR_INVALID_OPTION for an unknown key, naming the nearest known one, and takes nothing', async () => {
      const { client, remote } = await openPair();
      client.peer.putPacket('waiting');
      await until(() => remote.getAvailablePacketCount() === 1);
      const handler = (packet: Packet): Packet[] => [packet];
      expectInvalidOption(
        () => consumePackets(remote, handler, { concurency: 4 } as never),
        "consumePackets(): unknown option 'concurency' (did you mean 'concurrency'?)",
      );
      expectInvalidOption(
        () => consumePackets(remote, handler, { parallel: 4 } as never),
        "consumePackets(): unknown option 'parallel'",
      );
      expectInvalidOption(
        () => consumePackets(remote, handler, null as never),
        'consumePackets(): options must be an object',
      );
      expect(() => consumePackets(remote, handler, { concurrency: undefined })).not.to.throw();
      expect(() => consumePackets(remote, handler, undefined)).not.to.throw();
      expect(remote.getAvailablePacketCount()).to.equal(1);
      expect(inboxWatcherCount(remote)).to.equal(0);
    });

    it('is cold: takes nothing before subscribe', async () => {
      const { client, remote } = await openPair();
      const consuming = consumePackets(remote, (packet) => of(packet.data));
      sendTexts(client.peer, 2);
      await until(() => remote.getAvailablePacketCount() === 2);
      await delay(20);
      expect(remote.getAvailablePacketCount()).to.equal(2);
      expect(await takeValues(consuming, 2)).to.deep.equal(texts(2));
    });
  });
});
