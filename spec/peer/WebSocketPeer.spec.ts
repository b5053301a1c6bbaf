import { expect } from 'chai';
import { WebSocket } from 'ws';
import { CloseCode, WriteMode } from '../../src/peer/constants.js';
import { WebSocketCloseError } from '../../src/errors/WebSocketCloseError.js';
import type { Packet, PeerState } from '../../src/peer/types.js';
import type { WebSocketPeer } from '../../src/peer/WebSocketPeer.js';
import {
  collect,
  delay,
  internalsOf,
  openClient,
  openPair,
  needsTool,
  readNoDelay,
  startServer,
  stopAll,
  takeValues,
} from '../helpers.js';

const KiB = 1024;
const MiB = 1024 * KiB;

/** A raw `ws` client: an independent end that reports frames exactly as they came. */
function rawClient(url: string): Promise<{ ws: WebSocket; frames: Array<{ data: Buffer; isBinary: boolean }> }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    const frames: Array<{ data: Buffer; isBinary: boolean }> = [];
    ws.on('message', (data: Buffer, isBinary) => frames.push({ data, isBinary }));
    ws.once('open', () => resolve({ ws, frames }));
    ws.once('error', reject);
  });
}

async function until(check: () => boolean, ms = 2000): Promise<void> {
  const start = Date.now();
  while (!check()) {
    if (Date.now() - start > ms) throw new Error('timed out waiting');
    await delay(5);
  }
}

describe('WebSocketPeer', () => {
  afterEach(stopAll);

  describe('state$', () => {
    it('goes open -> closing -> closed on both sides of a clean close, then completes', async () => {
      const { client, remote } = await openPair();
      const clientStates = collect(client.peer.state$);
      const remoteStates = collect(remote.state$);
      client.peer.close();
      await Promise.all([clientStates.done, remoteStates.done]);
      const expected: PeerState[] = ['open', 'closing', 'closed'];
      expect(clientStates.values).to.deep.equal(expected);
      expect(remoteStates.values).to.deep.equal(expected);
    });

    it('gives a late subscriber the current state first, synchronously', async () => {
      const { client } = await openPair();
      const seen: PeerState[] = [];
      client.peer.state$.subscribe((s) => seen.push(s)).unsubscribe();
      expect(seen).to.deep.equal(['open']);
      client.peer.close();
      const late: PeerState[] = [];
      client.peer.state$.subscribe((s) => late.push(s)).unsubscribe();
      expect(late).to.deep.equal(['closing']);
      await takeValues(client.peer.closed$, 1);
      const closed = collect(client.peer.state$);
      await closed.done;
      expect(closed.values).to.deep.equal(['closed']);
    });

    it('passes the passive side through closing too, while it answers the close frame', async () => {
      const { client, remote } = await openPair();
      const states = collect(remote.state$);
      expect(remote.isConnectedToHost()).to.equal(true);
      client.peer.close(4001);
      await until(() => states.values.includes('closing'));
      expect(remote.isConnectedToHost()).to.equal(false);
      await states.done;
      expect(states.values).to.deep.equal(['open', 'closing', 'closed']);
    });
  });

  describe('after close', () => {
    it('has completed every stream, early and late subscribers alike', async () => {
      const { client, remote } = await openPair();
      const early = [client.peer.packets$, client.peer.state$, client.peer.bufferedAmount$, client.peer.closed$].map(
        (s) => collect<unknown>(s),
      );
      remote.close();
      for (const stream of early) expect(await stream.done).to.deep.equal({});
      const late = [client.peer.packets$, client.peer.state$, client.peer.bufferedAmount$, client.peer.closed$].map(
        (s) => collect<unknown>(s),
      );
      for (const stream of late) expect(await stream.done).to.deep.equal({});
      expect(late[1]?.values).to.deep.equal(['closed']);
      expect(late[2]?.values).to.deep.equal([0]);
      expect(late[3]?.values).to.deep.equal([{ code: 1000, reason: '', wasClean: true }]);
    });

    it('leaves no listener on the underlying sockets of either side', async () => {
      const { client, remote } = await openPair();
      const sockets = [internalsOf(client.peer), internalsOf(remote)];
      // The transport takes the socket's events without listeners, for as long as it is open.
      for (const transport of sockets) {
        expect([transport.ws.eventNames(), transport.ws.handler === transport]).to.deep.equal([[], true]);
      }
      client.peer.packets$.subscribe({ error: () => {} });
      remote.close(CloseCode.GoingAway);
      await Promise.all([takeValues(client.peer.closed$, 1), takeValues(remote.closed$, 1)]);
      for (const { ws } of sockets) expect([ws.eventNames(), ws.handler]).to.deep.equal([[], undefined]);
    });
  });

  describe('packets', () => {
    it('arrive as string and Uint8Array, and wasStringPacket() follows the last one taken', async () => {
      const { client, remote } = await openPair();
      const seen: Array<[Packet, boolean]> = [];
      const done = new Promise<void>((resolve) => {
        remote.packets$.subscribe({
          next: (p) => {
            seen.push([p, remote.wasStringPacket()]);
            if (seen.length === 3) resolve();
          },
          error: () => {}, // 1001 when the server stops after the test
        });
      });
      client.peer.sink.next('héllo');
      client.peer.setWriteMode(WriteMode.Binary);
      client.peer.sink.next(new Uint8Array([0, 255, 128]));
      client.peer.setWriteMode(WriteMode.Text);
      client.peer.sink.next('again');
      await done;
      expect(seen[0]?.[0]).to.deep.equal({ isString: true, data: 'héllo' });
      expect(seen[0]?.[1]).to.equal(true);
      const binary = seen[1]?.[0];
      expect(binary?.isString).to.equal(false);
      expect(binary?.data).to.be.instanceOf(Uint8Array);
      expect(Buffer.isBuffer(binary?.data)).to.equal(false);
      expect([...(binary?.data as Uint8Array)]).to.deep.equal([0, 255, 128]);
      expect(seen[1]?.[1]).to.equal(false);
      expect(seen[2]?.[1]).to.equal(true);
    });

    it('wait in the peer for the first subscriber, in order, and for getPacket()', async () => {
      const server = await startServer();
      const remoteOpened = server.nextPeer();
      const client = await openClient(server.url);
      const remote = await remoteOpened;
      for (let i = 0; i < 5; i++) remote.sink.next(`m${i}`);
      remote.setWriteMode(WriteMode.Binary);
      remote.sink.next(new Uint8Array([9]));
      await until(() => client.peer.getAvailablePacketCount() === 6);
      await delay(50);
      expect(client.peer.getPacket()).to.deep.equal({ isString: true, data: 'm0' });
      expect(client.peer.wasStringPacket()).to.equal(true);
      const rest = await takeValues(client.peer.packets$, 5);
      expect(rest.map((p) => (p.isString ? p.data : [...p.data]))).to.deep.equal(['m1', 'm2', 'm3', 'm4', [9]]);
      expect(client.peer.wasStringPacket()).to.equal(false);
      expect(client.peer.getAvailablePacketCount()).to.equal(0);
      expect(client.peer.getPacket()).to.equal(undefined);
    });

    it('go once to all current subscribers, and wait again when the last one leaves', async () => {
      const { client, remote } = await openPair();
      const a = takeValues(client.peer.packets$, 2);
      const b = takeValues(client.peer.packets$, 1);
      remote.sink.next('one');
      remote.sink.next('two');
      expect((await b).map((p) => p.data)).to.deep.equal(['one']);
      expect((await a).map((p) => p.data)).to.deep.equal(['one', 'two']);
      remote.sink.next('three');
      await until(() => client.peer.getAvailablePacketCount() === 1);
      expect(client.peer.getPacket()).to.deep.equal({ isString: true, data: 'three' });
    });

    it('stop the peer reading at the queue bound, and all arrive in order once taken', async () => {
      const { client, remote } = await openPair({}, { maxQueuedPackets: 16 });
      remote.setWriteMode(WriteMode.Binary);
      const payload = new Uint8Array(1024);
      for (let i = 0; i < 1000; i++) {
        new DataView(payload.buffer).setUint32(0, i);
        remote.sink.next(payload);
      }
      await until(() => internalsOf(client.peer).ws.isPaused);
      await delay(100);
      const waiting = client.peer.getAvailablePacketCount();
      // Bounded: the peer stopped reading; what one socket read had already brought may overshoot.
      expect(waiting)
        .to.be.at.least(16)
        .and.below(16 + 128);
      const all = await takeValues(client.peer.packets$, 1000);
      const order = all.map((p) => new DataView((p.data as Uint8Array).slice().buffer).getUint32(0));
      expect(order).to.deep.equal([...Array(1000).keys()]);
      expect(internalsOf(client.peer).ws.isPaused).to.equal(false);
    });

    describe('with the default bounds (README: 2 MiB, 4,096 packets)', () => {
      it('stop the peer reading at 2 MiB while nobody takes them; TCP holds the rest back in the sender', async () => {
        const { client, remote } = await openPair();
        remote.setWriteMode(WriteMode.Binary);
        const size = 256 * KiB;
        const count = 128; // 32 MiB: more than the kernel buffers of both ends take
        for (let i = 0; i < count; i++) {
          const payload = new Uint8Array(size);
          new DataView(payload.buffer).setUint32(0, i);
          remote.sink.next(payload);
        }
        await until(() => internalsOf(client.peer).ws.isPaused);
        const waiting = client.peer.getAvailablePacketCount();
        // Paused once 2 MiB waits (8 packets); the rest of the socket read that got there can
        // complete one more 256 KiB message, no more.
        expect(waiting * size)
          .to.be.at.least(2 * MiB)
          .and.at.most(2 * MiB + size);
        await delay(200);
        expect(client.peer.getAvailablePacketCount(), 'the queue stops growing').to.equal(waiting);
        expect(remote.getCurrentOutboundBufferedAmount(), 'the sender holds what TCP did not take').to.be.above(0);
        const all = await takeValues(client.peer.packets$, count);
        const order = all.map((p) => new DataView((p.data as Uint8Array).slice(0, 4).buffer).getUint32(0));
        expect(order).to.deep.equal([...Array(count).keys()]);
        expect(all.every((p) => p.data.length === size)).to.equal(true);
        await until(() => remote.getCurrentOutboundBufferedAmount() === 0);
      });

      it('stop the peer reading at 4,096 small packets while nobody takes them', async () => {
        const { client, remote } = await openPair();
        const count = 20_000;
        for (let i = 0; i < count; i++) remote.sink.next(`m${i}`);
        await until(() => internalsOf(client.peer).ws.isPaused);
        const waiting = client.peer.getAvailablePacketCount();
        // Paused at 4,096; the rest of that socket read (at most 64 KiB, frames of 8 bytes or more) overshoots.
        expect(waiting)
          .to.be.at.least(4096)
          .and.at.most(4096 + (64 * KiB) / 8);
        await delay(100);
        expect(client.peer.getAvailablePacketCount(), 'the queue stops growing').to.equal(waiting);
        const all = await takeValues(client.peer.packets$, count);
        expect(all.map((p) => p.data)).to.deep.equal(Array.from({ length: count }, (_, i) => `m${i}`));
      });
    });
  });

  describe('write mode', () => {
    const cases: Array<[string, WriteMode, string | Uint8Array, boolean]> = [
      ['a string in text mode as text', WriteMode.Text, 'é', false],
      ['bytes in text mode as text', WriteMode.Text, new Uint8Array([0xc3, 0xa9]), false],
      ['a string in binary mode as its UTF-8 bytes', WriteMode.Binary, 'é', true],
      ['bytes in binary mode as binary', WriteMode.Binary, new Uint8Array([0xc3, 0xa9]), true],
    ];
    for (const [name, mode, data, isBinary] of cases) {
      it(`sends ${name}`, async () => {
        const server = await startServer();
        const remoteOpened = server.nextPeer();
        const raw = await rawClient(server.url);
        const remote = await remoteOpened;
        remote.setWriteMode(mode);
        expect(remote.getWriteMode()).to.equal(mode);
        remote.putPacket(data);
        await until(() => raw.frames.length === 1);
        expect(raw.frames[0]?.isBinary).to.equal(isBinary);
        expect([...(raw.frames[0]?.data ?? [])]).to.deep.equal([0xc3, 0xa9]);
        raw.ws.close();
      });
    }

    it('sends a Packet as its own kind whatever the mode', async () => {
      const server = await startServer();
      const remoteOpened = server.nextPeer();
      const raw = await rawClient(server.url);
      const remote = await remoteOpened;
      remote.setWriteMode(WriteMode.Binary);
      remote.sink.next({ isString: true, data: 'text' });
      remote.setWriteMode(WriteMode.Text);
      remote.sink.next({ isString: false, data: new Uint8Array([1]) });
      await until(() => raw.frames.length === 2);
      expect(raw.frames.map((f) => f.isBinary)).to.deep.equal([false, true]);
      raw.ws.close();
    });

    it('refuses bytes that are not UTF-8 in text mode, and sends nothing', async () => {
      const server = await startServer();
      const remoteOpened = server.nextPeer();
      const raw = await rawClient(server.url);
      const remote = await remoteOpened;
      for (const bad of [[0xff], [0xc0, 0x80], [0xed, 0xa0, 0x80], [0xe2, 0x82]]) {
        expect(() => remote.sink.next(new Uint8Array(bad)))
          .to.throw(TypeError)
          .with.property('code', 'ERR_INVALID_UTF8');
      }
      remote.sink.next('after');
      await until(() => raw.frames.length === 1);
      await delay(20);
      expect(raw.frames.map((f) => f.data.toString())).to.deep.equal(['after']);
      expect(remote.isConnectedToHost()).to.equal(true);
      raw.ws.close();
    });

    it('refuses a mode that is not a WriteMode, and data that is not data', async () => {
      const { client } = await openPair();
      expect(() => client.peer.setWriteMode(2 as WriteMode))
        .to.throw(RangeError)
        .with.property('code', 'ERR_INVALID_WRITE_MODE');
      expect(client.peer.getWriteMode()).to.equal(WriteMode.Text);
      for (const bad of [42, null, undefined, {}, { isString: true, data: 1 }, { isString: false, data: 'x' }]) {
        expect(() => client.peer.putPacket(bad as unknown as string))
          .to.throw(TypeError)
          .with.property('code', 'ERR_INVALID_DATA');
      }
    });

    it('takes the initial mode from the options', async () => {
      const { client, remote } = await openPair({ writeMode: WriteMode.Binary }, {});
      remote.sink.next('x');
      const [packet] = await takeValues(client.peer.packets$, 1);
      expect(packet?.isString).to.equal(false);
    });
  });

  describe('close(code, reason)', () => {
    for (const [code, reason] of [
      [1000, ''],
      [1001, 'going'],
      [1003, 'no thanks'],
      [1011, 'oops'],
      [3000, 'app'],
      [4999, '€'.repeat(41)],
    ] as const) {
      it(`gives the other side exactly ${code} and a ${Buffer.byteLength(reason)}-byte reason`, async () => {
        const { client, remote } = await openPair();
        client.peer.close(code, reason);
        const [theirs] = await takeValues(remote.closed$, 1);
        const [ours] = await takeValues(client.peer.closed$, 1);
        expect(theirs).to.deep.equal({ code, reason, wasClean: true });
        expect(ours).to.deep.equal({ code, reason, wasClean: true });
      });
    }

    it('throws RangeError for codes outside RFC 6455 §7.4 and long reasons, and stays open', async () => {
      const { client, remote } = await openPair();
      for (const code of [999, 1004, 1005, 1006, 1015, 5000]) {
        expect(() => client.peer.close(code))
          .to.throw(RangeError)
          .with.property('code', 'ERR_INVALID_CLOSE_CODE');
      }
      expect(() => client.peer.close(1000, 'x'.repeat(124)))
        .to.throw(RangeError)
        .with.property('code', 'ERR_INVALID_CLOSE_REASON');
      expect(() => client.peer.close(1000, '€'.repeat(42)))
        .to.throw(RangeError)
        .with.property('code', 'ERR_INVALID_CLOSE_REASON');
      expect(client.peer.isConnectedToHost()).to.equal(true);
      client.peer.sink.next('still open');
      const [packet] = await takeValues(remote.packets$, 1);
      expect(packet?.data).to.equal('still open');
    });

    it('does nothing on a peer that is closing or closed', async () => {
      const { client, remote } = await openPair();
      client.peer.close(4000, 'first');
      client.peer.close(4001, 'second');
      const [info] = await takeValues(remote.closed$, 1);
      expect(info?.code).to.equal(4000);
      await takeValues(client.peer.closed$, 1);
      expect(() => client.peer.close(4002)).not.to.throw();
      expect((await takeValues(client.peer.closed$, 1))[0]).to.deep.equal({
        code: 4000,
        reason: 'first',
        wasClean: true,
      });
    });
  });

  describe('writes after close', () => {
    it('throw ERR_PEER_CLOSED, while closing and once closed, and send nothing', async () => {
      const { client, remote } = await openPair();
      const received = collect(remote.packets$);
      client.peer.close();
      for (const write of [() => client.peer.sink.next('late'), () => client.peer.putPacket(new Uint8Array(1))]) {
        expect(write).to.throw().with.property('code', 'ERR_PEER_CLOSED');
      }
      await takeValues(client.peer.closed$, 1);
      expect(() => client.peer.sink.next('later'))
        .to.throw()
        .with.property('code', 'ERR_PEER_CLOSED');
      await received.done;
      expect(received.values).to.deep.equal([]);
    });

    it('throw on the side that the other one closed', async () => {
      const { client, remote } = await openPair();
      client.peer.close();
      await takeValues(remote.closed$, 1);
      expect(() => remote.sink.next('late'))
        .to.throw()
        .with.property('code', 'ERR_PEER_CLOSED');
    });
  });

  describe('sink', () => {
    it('closes with 1000 on complete() and 1011 on error()', async () => {
      const first = await openPair();
      first.client.peer.sink.complete();
      expect((await takeValues(first.remote.closed$, 1))[0]?.code).to.equal(CloseCode.Normal);
      const second = await openPair();
      second.client.peer.sink.error(new Error('boom'));
      expect((await takeValues(second.remote.closed$, 1))[0]?.code).to.equal(CloseCode.InternalError);
    });

    it('works with its methods detached from it', async () => {
      const { client, remote } = await openPair();
      const { next, complete } = client.peer.sink;
      next('detached');
      expect((await takeValues(remote.packets$, 1)).map((p) => p.data)).to.deep.equal(['detached']);
      complete();
      expect((await takeValues(remote.closed$, 1))[0]?.code).to.equal(CloseCode.Normal);
    });
  });

  describe('streams made when first asked for', () => {
    it('are the same object each time, before and after the close', async () => {
      const { client } = await openPair();
      const peer = client.peer;
      const streams = (): unknown[] => [peer.packets$, peer.state$, peer.bufferedAmount$, peer.closed$, peer.sink];
      const first = streams();
      streams().forEach((stream, i) => expect(stream).to.equal(first[i]));
      peer.close();
      await takeValues(peer.closed$, 1);
      streams().forEach((stream, i) => expect(stream).to.equal(first[i]));
    });

    it('first asked for after the close, give the final value and complete', async () => {
      const { client, remote } = await openPair();
      remote.close(CloseCode.GoingAway, 'bye');
      // packets$ ends once the peer has closed (1001: with an error); the others have not been asked for yet.
      expect((await collect(client.peer.packets$).done).error).to.include({
        code: CloseCode.GoingAway,
        wasClean: true,
      });
      const late = [client.peer.state$, client.peer.bufferedAmount$, client.peer.closed$].map((s) =>
        collect<unknown>(s),
      );
      for (const stream of late) expect(await stream.done).to.deep.equal({});
      expect(late.map((stream) => stream.values)).to.deep.equal([
        ['closed'],
        [0],
        [{ code: CloseCode.GoingAway, reason: 'bye', wasClean: true }],
      ]);
    });
  });

  describe('bufferedAmount$', () => {
    /**
     * Sends 64 x 256 KiB from `sender` while the other side reads nothing, then lets it read and
     * take them, and checks at every emission that the amount is what Node still holds for the
     * kernel (the socket's writableLength, and a client's messages it has not framed yet) less
     * the frame headers of at most 64 frames (14 bytes at most each).
     */
    async function checkExact(sender: WebSocketPeer, receiver: WebSocketPeer): Promise<void> {
      const { socket } = internalsOf(sender);
      const deferred = internalsOf(sender) as unknown as { deferred?: { weight: number } };
      const held = (): number => socket.writableLength + (deferred.deferred?.weight ?? 0);
      internalsOf(receiver).socket.pause(); // the kernel buffers fill up, then Node's
      const seen: Array<{ amount: number; writable: number; current: number }> = [];
      const amounts = collect(sender.bufferedAmount$);
      sender.bufferedAmount$.subscribe((amount) =>
        seen.push({ amount, writable: held(), current: sender.getCurrentOutboundBufferedAmount() }),
      );
      sender.setWriteMode(WriteMode.Binary);
      for (let i = 0; i < 64; i++) sender.sink.next(new Uint8Array(256 * 1024));
      const peak = Math.max(...amounts.values);
      expect(peak, 'some of the 16 MiB waits in the process').to.be.above(4 * 1024 * 1024);
      // The receiver takes them as they come: its inbound queue would stop it reading at 2 MiB.
      const taken = takeValues(receiver.packets$, 64);
      internalsOf(receiver).socket.resume();
      await until(() => sender.getCurrentOutboundBufferedAmount() === 0, 5000);
      expect(await taken).to.have.length(64);
      for (const { amount, writable, current } of seen) {
        expect(current).to.equal(amount);
        expect(amount).to.be.at.most(writable);
        expect(writable - amount).to.be.at.most(64 * 14);
      }
      expect(seen.at(-1)?.amount).to.equal(0);
      expect(socket.writableLength).to.equal(0);
    }

    it('is what the OS has not taken yet, on a client peer', async () => {
      const { client, remote } = await openPair();
      await checkExact(client.peer, remote);
    });

    it("sends a client's messages that waited for a backed-up socket, in order, before its close frame", async () => {
      const { client, remote } = await openPair();
      internalsOf(remote).socket.pause();
      const size = 256 * 1024;
      // Large texts wait to be framed while the socket is backed up (each weighed by its UTF-8 size,
      // which is not its length); binary messages behind them wait in line.
      const sent: Packet[] = [...Array(64).keys()].map((i) =>
        i % 4 === 3
          ? { isString: false, data: new Uint8Array(size).fill(i) }
          : { isString: true, data: (String.fromCharCode(65 + (i % 26)) + '€').repeat(size / 2) },
      );
      for (const packet of sent) client.peer.putPacket(packet);
      const waiting = internalsOf(client.peer) as unknown as { deferred?: { size: number } };
      expect(waiting.deferred?.size, 'messages not framed yet').to.be.above(0);
      client.peer.close(1000, 'bye');
      const received = takeValues(remote.packets$, 64);
      internalsOf(remote).socket.resume();
      const summary = (packet: Packet): unknown[] => [packet.isString, packet.data.length, packet.data[0]];
      expect((await received).map(summary)).to.deep.equal(sent.map(summary));
      expect((await takeValues(remote.closed$, 1))[0]).to.deep.equal({ code: 1000, reason: 'bye', wasClean: true });
    });

    it('is what the OS has not taken yet, on a server peer', async () => {
      const { client, remote } = await openPair();
      await checkExact(remote, client.peer);
    });

    it("counts a server peer's text by its UTF-8 bytes, not by its length in UTF-16 units", async () => {
      const { client, remote } = await openPair();
      internalsOf(client.peer).socket.pause();
      const chunk = new Uint8Array(256 * KiB);
      remote.setWriteMode(WriteMode.Binary);
      for (let i = 0; i < 256 && remote.getCurrentOutboundBufferedAmount() === 0; i++) remote.sink.next(chunk);
      remote.setWriteMode(WriteMode.Text);
      // From here on each message waits whole in the process: it adds its payload, exactly.
      for (const text of ['é'.repeat(3000), '€😀'.repeat(5), 'ascii']) {
        const before = remote.getCurrentOutboundBufferedAmount();
        remote.sink.next(text);
        expect(remote.getCurrentOutboundBufferedAmount() - before, JSON.stringify(text.slice(0, 4))).to.equal(
          Buffer.byteLength(text),
        );
      }
      // The client takes every packet as it comes (its inbound queue would stop it reading).
      const received = collect(client.peer.packets$);
      internalsOf(client.peer).socket.resume();
      await until(() => remote.getCurrentOutboundBufferedAmount() === 0, 10_000);
      await until(() => received.values.at(-1)?.data === 'ascii');
    });

    it('sends the first small message of a turn at once, counts the ones held for the turn, and is 0 again', async () => {
      const { client } = await openPair();
      const socket = internalsOf(client.peer).socket;
      const amounts = collect(client.peer.bufferedAmount$);
      client.peer.sink.next('ab€');
      // Alone so far: the kernel has it already, nothing waits.
      expect([client.peer.getCurrentOutboundBufferedAmount(), socket.writableLength]).to.deep.equal([0, 0]);
      client.peer.sink.next('cd');
      client.peer.sink.next('efg');
      // Coalesced: held in the process until the end of the turn, so not yet the OS's.
      expect(client.peer.getCurrentOutboundBufferedAmount()).to.equal(5);
      expect(socket.writableLength).to.be.at.least(5);
      await delay(20);
      expect(amounts.values).to.deep.equal([0, 2, 5, 0]);
      expect(socket.writableLength).to.equal(0);
      // A new turn: its first message goes out at once again.
      client.peer.sink.next('h');
      expect(socket.writableLength).to.equal(0);
    });

    it('sends small messages of one turn in one write, and a large one without waiting', async () => {
      const { client, remote } = await openPair();
      // Node's Socket#_writev is what a corked socket calls with all it holds, once.
      const socket = internalsOf(client.peer).socket as unknown as { _writev: unknown };
      let writes = 0;
      const original = { writev: socket._writev as (...args: unknown[]) => unknown };
      const spy = (...args: unknown[]): unknown => {
        writes++;
        return original.writev.apply(socket, args);
      };
      socket._writev = spy;
      client.peer.setWriteMode(WriteMode.Binary);
      const chunk = new Uint8Array(64);
      for (let i = 0; i < 100; i++) {
        chunk[0] = i; // reused at once: each small message was copied
        client.peer.sink.next(chunk);
      }
      const received = await takeValues(remote.packets$, 100);
      expect(received.map((p) => (p.data as Uint8Array)[0])).to.deep.equal([...Array(100).keys()]);
      expect(writes).to.equal(1);
      const large = new Uint8Array(64 * 1024);
      client.peer.sink.next(large); // not held for the turn: the kernel has it at once
      expect(client.peer.getCurrentOutboundBufferedAmount()).to.equal(0);
      socket._writev = original.writev;
    });
  });

  describe('addresses and Nagle', () => {
    it('getConnectedHost()/getConnectedPort() give the remote address on both sides', async () => {
      const { server, client, remote } = await openPair();
      expect(client.peer.getConnectedHost()).to.equal('127.0.0.1');
      expect(client.peer.getConnectedPort()).to.equal(server.server.port);
      expect(remote.getConnectedHost()).to.equal('127.0.0.1');
      expect(remote.getConnectedPort()).to.equal(internalsOf(client.peer).socket.localPort);
    });

    it('setNoDelay(false) turns Nagle on in the kernel, and it is off by default', async function () {
      needsTool('python3');
      const { client, remote } = await openPair();
      for (const peer of [client.peer, remote]) {
        const { socket } = internalsOf(peer);
        expect(readNoDelay(socket)).to.equal(1);
        peer.setNoDelay(false);
        expect(readNoDelay(socket)).to.equal(0);
        peer.setNoDelay(true);
        expect(readNoDelay(socket)).to.equal(1);
      }
      expect(() => client.peer.setNoDelay('no' as unknown as boolean))
        .to.throw(TypeError)
        .with.property('code', 'ERR_INVALID_ARG_TYPE');
    });

    it('honours noDelay: false from the options', async function () {
      needsTool('python3');
      const { client, remote } = await openPair({ noDelay: false }, { noDelay: false });
      expect(readNoDelay(internalsOf(client.peer).socket)).to.equal(0);
      expect(readNoDelay(internalsOf(remote).socket)).to.equal(0);
    });
  });

  describe('an abrupt end', () => {
    it('when the TCP connection is reset gives 1006, not clean, and packets$ errors', async () => {
      const { client, remote } = await openPair();
      const packets = collect(client.peer.packets$);
      remote.sink.next('before');
      await until(() => packets.values.length === 1);
      const states = collect(client.peer.state$);
      internalsOf(remote).socket.resetAndDestroy();
      const { error } = await packets.done;
      expect(error).to.be.instanceOf(WebSocketCloseError);
      expect(error).to.include({ code: 1006, wasClean: false });
      expect((await takeValues(client.peer.closed$, 1))[0]).to.deep.equal({ code: 1006, reason: '', wasClean: false });
      await states.done;
      expect(states.values).to.deep.equal(['open', 'closing', 'closed']);
      expect(await client.ended).to.be.instanceOf(WebSocketCloseError);
    });
  });
});
