// ChatService in Node, in an Angular injector, against a real rx-websocket-peer server.
// '@angular/compiler' first: without the AOT build, @Injectable is compiled here, at run time (JIT).
import '@angular/compiler';
import {
  createEnvironmentInjector,
  EnvironmentInjector,
  platformCore,
  type PlatformRef,
  provideZonelessChangeDetection,
} from '@angular/core';
import { expect } from 'chai';
import { listen, type PeerServer, type WebSocketPeer } from 'rx-websocket-peer';
import {
  catchError,
  EMPTY,
  filter,
  firstValueFrom,
  mergeMap,
  type Observable,
  ReplaySubject,
  type Subscription,
  switchMap,
  take,
  tap,
  timeout,
  toArray,
} from 'rxjs';
import { type ReconnectOptions } from 'rx-websocket-peer';
import {
  CHAT_RECONNECT_OPTIONS,
  CHAT_URL,
  type ChatMessage,
  type ChatSendError,
  ChatService,
  type ChatState,
} from '../src/app/chat.service';

const WAIT = 5_000;

/** A server on 127.0.0.1 that greets each peer with 'hello' and answers each text with 'echo: text'. */
interface TestServer {
  readonly port: number;
  readonly url: string;
  /** Each peer as it opens, replayed. */
  readonly peers$: Observable<WebSocketPeer>;
  /** Every text received, in order. */
  readonly received: string[];
  /** Stops it: its peers are closed with 1001 and the port is free again. */
  stop(): void;
}

async function startServer(port = 0): Promise<TestServer> {
  const peers$ = new ReplaySubject<WebSocketPeer>();
  const received: string[] = [];
  let subscription: Subscription | undefined;
  const server = await new Promise<PeerServer>((resolve, reject) => {
    subscription = listen({ port, host: '127.0.0.1' })
      .pipe(
        tap((listening) => resolve(listening)),
        switchMap((listening) => listening.peers$),
        tap((peer) => peers$.next(peer)),
        mergeMap((peer) => {
          peer.putPacket('hello');
          return peer.packets$.pipe(
            tap((packet) => {
              const text = String(packet.data);
              received.push(text);
              peer.putPacket(`echo: ${text}`);
            }),
            catchError(() => EMPTY),
          );
        }),
      )
      .subscribe({ error: reject });
  });
  return {
    port: server.port,
    url: `ws://127.0.0.1:${server.port}/chat`,
    peers$,
    received,
    stop: () => subscription?.unsubscribe(),
  };
}

const delay = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Resolves once `condition()` holds, checking every 10 ms; rejects after a while. */
async function until(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + WAIT;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await delay(10);
  }
}

/** The first value of `source$` that `predicate` accepts, or a timeout error. */
const waitFor = <T>(source$: Observable<T>, predicate: (value: T) => boolean, what: string): Promise<T> =>
  firstValueFrom(
    source$.pipe(
      filter(predicate),
      timeout({ first: WAIT, with: () => Promise.reject(new Error(`timed out waiting for ${what}`)) }),
    ),
  );

describe('ChatService (Angular, zoneless, in Node)', function () {
  this.timeout(15_000);

  let platform: PlatformRef;
  let injector: EnvironmentInjector | undefined;
  let server: TestServer | undefined;
  const subscriptions: Subscription[] = [];

  /** A fresh injector, like an app's root one, with the service pointed at `url`. */
  function createInjector(url: string, options: ReconnectOptions = {}): EnvironmentInjector {
    const parent = platform.injector;
    if (!(parent instanceof EnvironmentInjector)) throw new Error('the platform injector is no EnvironmentInjector');
    injector = createEnvironmentInjector(
      [
        provideZonelessChangeDetection(),
        { provide: CHAT_URL, useValue: url },
        // Short delays, so that a restart is noticed and retried within the test.
        { provide: CHAT_RECONNECT_OPTIONS, useValue: { initialDelay: 50, maxDelay: 200, ...options } },
        ChatService,
      ],
      parent,
      'test',
    );
    return injector;
  }

  /** What `source$` emits from now on, and whether it has completed; unsubscribed after the test. */
  function record<T>(source$: Observable<T>): { values: T[]; done: () => boolean } {
    const values: T[] = [];
    let completed = false;
    subscriptions.push(source$.subscribe({ next: (value) => values.push(value), complete: () => (completed = true) }));
    return { values, done: () => completed };
  }

  before(() => {
    platform = platformCore();
  });
  after(() => platform.destroy());
  afterEach(() => {
    subscriptions.splice(0).forEach((subscription) => subscription.unsubscribe());
    if (injector && !injector.destroyed) injector.destroy();
    injector = undefined;
    server?.stop();
    server = undefined;
  });

  it('connects lazily: injecting it and watching state$ open nothing, the first messages$ subscriber does', async () => {
    server = await startServer();
    const chat = createInjector(server.url).get(ChatService);
    const states = record(chat.state$);
    const peers = record(server.peers$);
    await delay(100);
    expect(states.values).to.deep.equal([{ state: 'idle' }]);
    expect(peers.values).to.have.length(0);

    // Two subscribers share one connection.
    const first = firstValueFrom(chat.messages$.pipe(take(1), timeout(WAIT)));
    const second = firstValueFrom(chat.messages$.pipe(take(1), timeout(WAIT)));
    expect(await first).to.equal('hello');
    expect(await second).to.equal('hello');
    expect(peers.values).to.have.length(1);
    expect(states.values).to.deep.equal([
      { state: 'idle' },
      { state: 'connecting', attempt: 0 },
      { state: 'open', attempt: 0 },
    ]);
  });

  it('send() connects if nothing has yet, and the answer comes on messages$', async () => {
    server = await startServer();
    const chat = createInjector(server.url).get(ChatService);
    chat.send('hi');
    chat.send('there');
    const messages = await firstValueFrom(chat.messages$.pipe(take(3), toArray(), timeout(WAIT)));
    expect(messages).to.deep.equal(['hello', 'echo: hi', 'echo: there']);
    expect(server.received).to.deep.equal(['hi', 'there']);
  });

  it('reconnects with backoff when the server restarts, and sends what was written meanwhile', async () => {
    server = await startServer();
    const { port } = server;
    const chat = createInjector(server.url).get(ChatService);
    const states = record(chat.state$);
    const messages = record<ChatMessage>(chat.messages$);
    await waitFor(chat.state$, (s) => s.state === 'open', "'open'");

    server.stop(); // its peers close with 1001: the service retries, the port refuses, it backs off
    server = undefined;
    await waitFor(chat.state$, (s) => s.state === 'reconnecting' && (s.attempt ?? 0) >= 2, 'a second retry');
    chat.send('while down 1');
    chat.send('while down 2');

    server = await startServer(port);
    const reopened = await waitFor(chat.state$, (s) => s.state === 'open', "'open' again");
    expect(reopened.attempt).to.be.at.least(2);
    await until(() => messages.values.includes('echo: while down 2'), 'the echo of the queued writes');
    expect(server.received).to.deep.equal(['while down 1', 'while down 2']);
    expect(messages.values).to.deep.equal(['hello', 'hello', 'echo: while down 1', 'echo: while down 2']);

    const seen = states.values.map((s) => s.state);
    expect(seen.slice(0, 3)).to.deep.equal(['idle', 'connecting', 'open']);
    expect(seen).to.include('reconnecting');
    const delays = states.values.flatMap((s: ChatState) => (s.state === 'reconnecting' ? [s.delay ?? 0] : []));
    expect(Math.max(...delays)).to.be.at.most(200); // maxDelay
  });

  it('closes the connection with 1000 when its injector is destroyed, and completes state$ and messages$', async () => {
    server = await startServer();
    const injector = createInjector(server.url);
    const chat = injector.get(ChatService);
    const states = record(chat.state$);
    const messages = record<ChatMessage>(chat.messages$);
    const peer = await firstValueFrom(server.peers$.pipe(timeout(WAIT)));
    await waitFor(chat.state$, (s) => s.state === 'open', "'open'");

    injector.destroy();

    const closed = await waitFor(peer.closed$, () => true, 'the server side to close');
    expect(closed).to.deep.include({ code: 1000, wasClean: true });
    expect(states.values.at(-1)).to.deep.equal({ state: 'closed' });
    expect(states.done()).to.equal(true);
    await until(messages.done, 'messages$ to complete'); // once the closing handshake is over
    const errors = record(chat.sendError$);
    expect(chat.send('too late')).to.equal(false);
    expect(errors.values.at(-1)).to.deep.include({ code: 'ERR_PEER_CLOSED', text: 'too late' });
  });

  it('queued$ counts the sends that wait while the server is down, and is 0 once they went out', async () => {
    server = await startServer();
    const { port } = server;
    const chat = createInjector(server.url).get(ChatService);
    const queued = record(chat.queued$);
    const messages = record<ChatMessage>(chat.messages$);
    await waitFor(chat.state$, (s) => s.state === 'open', "'open'");
    expect(chat.send('while up')).to.equal(true);
    await until(() => messages.values.includes('echo: while up'), 'the echo of a send while open');
    expect(queued.values).to.deep.equal([0]); // sent at once: nothing waited

    server.stop();
    server = undefined;
    await waitFor(chat.state$, (s) => s.state === 'reconnecting', "'reconnecting'");
    expect(chat.send('while down 1')).to.equal(true);
    expect(chat.send('while down 2')).to.equal(true);
    expect(queued.values).to.deep.equal([0, 1, 2]);

    server = await startServer(port);
    await until(() => messages.values.includes('echo: while down 2'), 'the echo of the queued sends');
    expect(server.received).to.deep.equal(['while down 1', 'while down 2']);
    // Back to 0 once the new connection took them, with no send after it to tell.
    await until(() => queued.values.at(-1) === 0, 'queued$ to be 0 again');
    expect(queued.values).to.deep.equal([0, 1, 2, 0]);
  });

  it('send() past maxQueuedWrites returns false and tells sendError$ ERR_QUEUE_FULL; a send taken clears it', async () => {
    // Nothing listens on this port: the service keeps retrying, and sends wait.
    const unused = await startServer();
    unused.stop();
    const chat = createInjector(unused.url, { maxQueuedWrites: 2 }).get(ChatService);
    const errors = record<ChatSendError | undefined>(chat.sendError$);
    const queued = record(chat.queued$);
    expect(chat.send('one')).to.equal(true);
    expect(chat.send('two')).to.equal(true);
    expect(errors.values).to.deep.equal([undefined, undefined, undefined]);

    expect(chat.send('three')).to.equal(false);
    const refused = errors.values.at(-1);
    expect(refused).to.deep.include({ code: 'ERR_QUEUE_FULL', text: 'three' });
    expect(refused?.message).to.be.a('string').and.not.equal('');
    expect(queued.values).to.deep.equal([0, 1, 2]); // 'three' was not queued

    server = await startServer(unused.port);
    await until(() => queued.values.at(-1) === 0, 'the queued sends to go out');
    expect(chat.send('three, again')).to.equal(true);
    expect(errors.values.at(-1)).to.equal(undefined);
    await until(() => server!.received.length === 3, 'three texts at the server');
    expect(server.received).to.deep.equal(['one', 'two', 'three, again']);
  });

  it('send() once the connection gave up returns false and tells sendError$ ERR_PEER_CLOSED', async () => {
    const unused = await startServer();
    unused.stop();
    const chat = createInjector(unused.url, { maxAttempts: 1, initialDelay: 10, maxDelay: 10 }).get(ChatService);
    const errors = record<ChatSendError | undefined>(chat.sendError$);
    chat.send('into the void'); // connects; the first try and the one retry are refused
    await waitFor(chat.state$, (s) => s.state === 'closed', "'closed'");

    expect(chat.send('too late')).to.equal(false);
    expect(errors.values.at(-1)).to.deep.include({ code: 'ERR_PEER_CLOSED', text: 'too late' });
  });
});
