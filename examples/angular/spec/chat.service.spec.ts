// ChatService in Node, in an Angular injector, against server.mjs's rooms server (in this process).
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
import { lastValueFrom, type Observable, type Subscription } from 'rxjs';
import { type ReconnectOptions } from 'rx-websocket-peer';
import { CHAT_ROOM_NAME, startChatServer } from '../server.mjs';
import {
  CHAT_RECONNECT_OPTIONS,
  CHAT_ROOM,
  CHAT_URL,
  type ChatMessage,
  type ChatNotice,
  type ChatSendError,
  ChatService,
  type ChatState,
} from '../src/app/chat.service';

const WAIT = 5_000;

type ChatServer = Awaited<ReturnType<typeof startChatServer>>;

const delay = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Resolves once `condition()` holds, checking every 10 ms; rejects after a while. */
async function until(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + WAIT;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await delay(10);
  }
}

const chatUrl = (server: ChatServer): string => `ws://127.0.0.1:${server.port}/chat`;

describe('ChatService (Angular, zoneless, in Node)', function () {
  this.timeout(15_000);

  let platform: PlatformRef;
  let injector: EnvironmentInjector | undefined;
  let server: ChatServer | undefined;
  const subscriptions: Subscription[] = [];

  /** A fresh injector, like an app's root one, with the service pointed at `url`. */
  function createInjector(url: string, options: ReconnectOptions = {}): EnvironmentInjector {
    const parent = platform.injector;
    if (!(parent instanceof EnvironmentInjector)) throw new Error('the platform injector is no EnvironmentInjector');
    injector = createEnvironmentInjector(
      [
        provideZonelessChangeDetection(),
        { provide: CHAT_URL, useValue: url },
        { provide: CHAT_ROOM, useValue: CHAT_ROOM_NAME },
        // Short delays, so that a drop is noticed and retried within the test.
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

  /** Texts published by the service are acknowledged once it says so. */
  const last = <T>(recorded: { values: T[] }): T | undefined => recorded.values.at(-1);
  const texts = (messages: { values: ChatMessage[] }): string[] => messages.values.map((m) => m.text);

  before(() => {
    platform = platformCore();
  });
  after(() => platform.destroy());
  afterEach(async () => {
    subscriptions.splice(0).forEach((subscription) => subscription.unsubscribe());
    if (injector && !injector.destroyed) injector.destroy();
    injector = undefined;
    await server?.stop();
    server = undefined;
  });

  it('connects lazily: injecting it and watching state$ open nothing; messages$ joins once, however many subscribe', async () => {
    server = await startChatServer({ port: 0 });
    const chat = createInjector(chatUrl(server)).get(ChatService);
    const states = record(chat.state$);
    await delay(100);
    expect(states.values).to.deep.equal([{ state: 'idle' }]);

    // Two subscribers share one join (a second join of the room would be refused: 'ended').
    const first = record(chat.messages$);
    const second = record(chat.messages$);
    const notices = record(chat.notice$);
    chat.send('hello');
    await until(() => first.values.length === 1 && second.values.length === 1, 'the message, twice');
    expect(texts(first)).to.deep.equal(['hello']);
    expect(second.values).to.deep.equal(first.values);
    expect(first.values[0]?.position.offset).to.equal(1);
    expect(notices.values).to.deep.equal([undefined]);
    expect(states.values).to.deep.equal([
      { state: 'idle' },
      { state: 'connecting', attempt: 0 },
      { state: 'open', attempt: 0 },
    ]);
  });

  it('send() connects if nothing has, and unacknowledged$ counts it until the server stored it', async () => {
    server = await startChatServer({ port: 0 });
    const received = record(server.received$);
    const chat = createInjector(chatUrl(server)).get(ChatService);
    const unacknowledged = record(chat.unacknowledged$);
    expect(chat.send('hi')).to.equal(true);
    expect(chat.send('there')).to.equal(true);
    await until(() => last(unacknowledged) === 0, 'the acknowledgements');
    expect(unacknowledged.values).to.deep.equal([0, 1, 2, 1, 0]);
    expect(received.values).to.deep.equal(['hi', 'there']);
  });

  it('after the server drops the connection: resumes, sends what was written meanwhile, shows each message once, in order', async () => {
    server = await startChatServer({ port: 0 });
    const received = record(server.received$);
    // A long first retry: the service stays offline long enough to send meanwhile.
    const chat = createInjector(chatUrl(server), { initialDelay: 300, maxDelay: 300, jitter: 0 }).get(ChatService);
    const states = record(chat.state$);
    const notices = record<ChatNotice | undefined>(chat.notice$);
    const unacknowledged = record(chat.unacknowledged$);
    const messages = record<ChatMessage>(chat.messages$);
    chat.send('before 1');
    await until(() => texts(messages).includes('before 1'), 'the first message');
    chat.send('before 2'); // on its way, perhaps unacknowledged, when the connection goes

    expect(server.dropConnections()).to.be.at.least(1);
    // Published while the service is offline: it gets it when it resumes.
    await lastValueFrom(server.engine.publish(CHAT_ROOM_NAME, 'from the server, while cut'));
    await until(() => last(states)?.state === 'reconnecting', "'reconnecting'");
    expect(last(notices)).to.equal(undefined);
    chat.send('offline 1');
    chat.send('offline 2');
    expect(last(unacknowledged)).to.be.at.least(2);

    await until(() => last(states)?.state === 'open', "'open' again");
    await until(() => last(unacknowledged) === 0, 'every send acknowledged');
    chat.send('after');
    await until(() => texts(messages).includes('after'), 'the message after the reconnect');

    // Each message stored once (a publish sent again after the cut is not stored twice), and
    // shown once, in the room's order, without a hole.
    expect(received.values).to.have.members([
      'before 1',
      'before 2',
      'from the server, while cut',
      'offline 1',
      'offline 2',
      'after',
    ]);
    expect(received.values).to.have.length(6);
    expect(received.values.indexOf('offline 1')).to.be.lessThan(received.values.indexOf('offline 2'));
    expect(texts(messages)).to.deep.equal(received.values);
    expect(messages.values.map((m) => m.position.offset)).to.deep.equal([1, 2, 3, 4, 5, 6]);
    expect(last(notices)).to.deep.equal({ kind: 'resumed', text: 'Resumed after reconnect, nothing missed.' });
    const seen = states.values.map((s: ChatState) => s.state);
    expect(seen).to.deep.equal(['idle', 'connecting', 'open', 'reconnecting', 'connecting', 'open']);
  });

  it('after a server restart (its history gone), says that messages were missed and goes on from now', async () => {
    server = await startChatServer({ port: 0 });
    const { port } = server;
    const chat = createInjector(chatUrl(server)).get(ChatService);
    const notices = record<ChatNotice | undefined>(chat.notice$);
    const messages = record<ChatMessage>(chat.messages$);
    chat.send('first life');
    await until(() => texts(messages).includes('first life'), 'the first message');

    await server.stop();
    server = await startChatServer({ port });
    await until(() => last(notices)?.kind === 'gap', "the 'gap' notice");
    expect(last(notices)?.text).to.match(/after #1: some were missed/);
    chat.send('second life');
    await until(() => texts(messages).includes('second life'), 'a message after the restart');
    expect(texts(messages)).to.deep.equal(['first life', 'second life']);
    expect(messages.done()).to.equal(false);
  });

  it('closes the connection with 1000 when its injector is destroyed, and completes what it exposes', async () => {
    server = await startChatServer({ port: 0 });
    const injector = createInjector(chatUrl(server));
    const chat = injector.get(ChatService);
    const states = record(chat.state$);
    const messages = record<ChatMessage>(chat.messages$);
    const notices = record(chat.notice$);
    const unacknowledged = record(chat.unacknowledged$);
    await until(() => last(states)?.state === 'open', "'open'");

    injector.destroy();

    expect(states.values.at(-1)).to.deep.equal({ state: 'closed' });
    expect(states.done()).to.equal(true);
    expect(messages.done()).to.equal(true);
    expect(notices.done()).to.equal(true);
    expect(notices.values).to.deep.equal([undefined]); // completed, not 'ended' with an error
    expect(unacknowledged.done()).to.equal(true);
  });

  it('send() once the connection gave up returns false and tells sendError$ ERR_PEER_CLOSED', async () => {
    const unused = await startChatServer({ port: 0 });
    await unused.stop();
    const chat = createInjector(chatUrl(unused), { maxAttempts: 1, initialDelay: 10, maxDelay: 10 }).get(ChatService);
    const errors = record<ChatSendError | undefined>(chat.sendError$);
    const notices = record<ChatNotice | undefined>(chat.notice$);
    record(chat.messages$);
    chat.send('into the void'); // the first try and the one retry are refused
    await until(() => last(errors) !== undefined, 'the first send to fail');
    expect(last(errors)).to.deep.include({ text: 'into the void' });
    expect(last(notices)?.kind).to.equal('ended');

    expect(chat.send('too late')).to.equal(false);
    expect(last(errors)).to.deep.include({ code: 'ERR_PEER_CLOSED', text: 'too late' });
  });
});
