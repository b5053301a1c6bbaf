// The built app (`ng build`, which `npm test` runs first) in Debian's headless Chromium (or the
// Chromium or Chrome at $CHROMIUM_PATH), driven by playwright-core (which brings no browser of its
// own), served by server.mjs: the app over HTTP and the chat room on /chat. Two pages chat in the
// room, and the server cuts every connection mid-conversation. The pages are opened with
// ?initialDelay=3000: after a drop they stay offline long enough to send meanwhile.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { expect } from 'chai';
import { type BrowserContext, chromium, type Page } from 'playwright-core';
import { lastValueFrom, type Subscription } from 'rxjs';
import { APP_ROOT, CHAT_ROOM_NAME, startChatServer } from '../server.mjs';

const HERE = resolve(import.meta.dirname, '..');
const STATS = join(HERE, 'dist/chat/stats.json');
const SCREENSHOT = join(HERE, 'artifacts/app.png');
const CHROMIUM = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';
/** ms before the first retry after a drop (jittered down to half of it, at least). */
const INITIAL_DELAY = 3000;
const RESUMED = 'Resumed after reconnect, nothing missed.';
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
const WAIT = 10_000;

/** What a page records of itself: each state and each notice it showed, in order. */
interface Shown {
  statesShown: string[];
  noticesShown: string[];
}

/**
 * Runs in each page before the app: records each state and each notice the page shows, as it
 * shows them (a MutationObserver), since a reconnect can be over before the test looks again.
 * A notice is recorded with the state shown beside it: 'open: Resumed...'.
 * Plain JavaScript in a string: tsx's compiled functions call helpers the page does not have.
 */
const WATCH_SHOWN = `
  window.statesShown = [];
  window.noticesShown = [];
  const look = () => {
    const state = document.querySelector('[data-testid=state]')?.textContent?.trim();
    if (state && window.statesShown.at(-1) !== state) window.statesShown.push(state);
    const notice = document.querySelector('[data-testid=notice]')?.textContent?.trim();
    const shown = notice && state + ': ' + notice;
    if (shown && window.noticesShown.at(-1) !== shown) window.noticesShown.push(shown);
  };
  new MutationObserver(look).observe(document, { subtree: true, childList: true, characterData: true });
`;

/** One page of the app, one user of the chat. */
class ChatPage {
  constructor(
    readonly name: string,
    readonly page: Page,
  ) {}

  state(): Promise<string> {
    return this.page.locator('[data-testid=state]').innerText();
  }
  messages(): Promise<string[]> {
    return this.page.locator('[data-testid=messages] li').allInnerTexts();
  }
  /** The room offset of each message shown. */
  offsets(): Promise<number[]> {
    return this.page
      .locator('[data-testid=messages] li')
      .evaluateAll((items) => items.map((item) => Number(item.getAttribute('data-offset'))));
  }
  /** Waits until the page shows connection state `expected`. */
  waitForState(expected: string): Promise<void> {
    return this.page
      .locator('[data-testid=state]', { hasText: new RegExp(`^${expected}$`) })
      .waitFor({ timeout: WAIT });
  }
  /** Waits until the page shows the message `text`. */
  waitForMessage(text: string): Promise<void> {
    return this.page
      .locator('[data-testid=messages] li')
      .filter({ hasText: new RegExp(`^${text}$`) })
      .first()
      .waitFor({ timeout: WAIT });
  }
  /**
   * Types `text` and clicks Send. The page comes to the front first: the two pages are tabs of one
   * window, and a tab behind draws no frames, so Playwright's checks before a click would wait.
   */
  async send(text: string): Promise<void> {
    await this.page.bringToFront();
    await this.page.locator('[data-testid=text]').fill(text);
    await this.page.locator('[data-testid=send]').click();
  }
  /** Each state and each notice the page has shown so far, in order. */
  shown(): Promise<Shown> {
    return this.page.evaluate(() => {
      const { statesShown, noticesShown } = window as unknown as Shown;
      return { statesShown, noticesShown };
    });
  }
}

describe('the Angular app in Chromium', function () {
  this.timeout(40_000);

  let server: Awaited<ReturnType<typeof startChatServer>> | undefined;
  let context: BrowserContext | undefined;
  let profile: string | undefined;
  let alice: ChatPage;
  let bob: ChatPage;
  /** Every message the server stored in the room, in the room's order. */
  const stored: string[] = [];
  let storing: Subscription | undefined;
  const pageErrors: string[] = [];
  /** console.error() calls of the pages: Angular's ErrorHandler logs what an event handler threw. */
  const consoleErrors: string[] = [];

  const openPage = async (name: string): Promise<ChatPage> => {
    const page = await context!.newPage();
    page.on('pageerror', (error) => pageErrors.push(`${name}: ${String(error.stack ?? error)}`));
    page.on('console', (message) => {
      if (message.type() === 'error') consoleErrors.push(`${name}: ${message.text()}`);
    });
    await page.addInitScript({ content: WATCH_SHOWN });
    await page.goto(`${server!.url}?initialDelay=${INITIAL_DELAY}`);
    return new ChatPage(name, page);
  };

  before(async function () {
    this.timeout(60_000);
    if (!existsSync(join(APP_ROOT, 'index.html'))) {
      throw new Error(
        `no built app in ${APP_ROOT}: run \`npm run test:angular\` (it builds first) or \`npx ng build\``,
      );
    }
    // The root's scripts/testTools.mjs lists the packages; this project does not import from it.
    // A missing browser fails, naming the package: never a skip.
    if (!existsSync(CHROMIUM)) {
      throw new Error(
        `the Debian package chromium is missing (${CHROMIUM}): \`npm test\` installs it when run as root; ` +
          'or run `apt-get update && apt-get install -y --no-install-recommends chromium`',
      );
    }
    server = await startChatServer({ port: 0 });
    storing = server.received$.subscribe((text) => stored.push(text));
    profile = mkdtempSync(join(tmpdir(), 'rxwp-angular-chromium-'));
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_ARGS,
    });
    const blank = context.pages()[0];
    alice = await openPage('alice');
    bob = await openPage('bob');
    await blank?.close();
  });

  after(async () => {
    storing?.unsubscribe();
    await context?.close();
    await server?.stop();
    if (profile) rmSync(profile, { recursive: true, force: true });
  });

  afterEach(() => {
    expect(pageErrors, 'uncaught errors in the pages').to.deep.equal([]);
    // Chromium's own lines about a WebSocket that could not connect are no errors of the app.
    const appErrors = consoleErrors.filter((text) => !/^\w+: WebSocket connection to '[^']+' failed/.test(text));
    expect(appErrors, 'console.error() in the pages').to.deep.equal([]);
  });

  it('was built with the browser build of rx-websocket-peer: no ws, no node: module, one RxJS', () => {
    const inputs = Object.keys((JSON.parse(readFileSync(STATS, 'utf8')) as { inputs: object }).inputs);
    // The library, installed from its tarball as a user's app has it: its files, as the build saw them.
    const library = inputs.flatMap(
      (input) => /^node_modules\/rx-websocket-peer\/dist\/esm\/(.*)$/.exec(input)?.[1] ?? [],
    );
    expect(
      inputs.filter((input) => input.startsWith('../')),
      'inputs outside the example',
    ).to.deep.equal([]);
    expect(library).to.include('index.browser.js');
    expect(library).not.to.include('index.js');
    expect(library.filter((file) => /Node/.test(file))).to.deep.equal([]);
    expect(inputs.filter((input) => /(^|\/)node_modules\/ws\/|^node:/.test(input))).to.deep.equal([]);
    const rxjsCopies = new Set(inputs.flatMap((input) => /^(.*node_modules\/rxjs)\//.exec(input)?.[1] ?? []));
    expect([...rxjsCopies]).to.deep.equal(['node_modules/rxjs']);
  });

  it('two pages join the room and see what each other says', async () => {
    await alice.waitForState('open');
    await bob.waitForState('open');
    // A page sees its own message once the room has it: its join went first, on the same connection.
    await alice.send('alice: hello');
    await alice.waitForMessage('alice: hello');
    await bob.send('bob: hi alice');
    await bob.waitForMessage('bob: hi alice');
    await alice.waitForMessage('bob: hi alice');
    expect(await alice.page.locator('[data-testid=unacknowledged]').innerText()).to.equal('0');
    expect(await alice.page.locator('[data-testid=text]').inputValue()).to.equal('');
    expect(await alice.page.locator('[data-testid=notice]').count()).to.equal(0);
  });

  it('the server drops every connection mid-conversation: both pages resume, and show every message once, in order', async () => {
    // Mid-conversation: sends in flight, perhaps not acknowledged yet, when the server cuts.
    await alice.send('alice: 1');
    await bob.send('bob: 1');
    await alice.send('alice: 2');
    expect(server!.dropConnections()).to.be.at.least(2);
    // Published while no page is connected: they get it when they resume.
    await lastValueFrom(server!.engine.publish(CHAT_ROOM_NAME, 'server: while you were away'));

    // Sent while offline: they wait, counted, and go out on the next connection.
    for (const page of [alice, bob]) {
      await page.waitForState('reconnecting');
      await page.send(`${page.name}: offline`);
      await page.page.locator('[data-testid=unacknowledged]', { hasText: /^[1-9]\d*$/ }).waitFor({ timeout: WAIT });
      expect(await page.state(), page.name).to.not.equal('open');
      expect(await page.page.locator('[data-testid=notice]').count(), page.name).to.equal(0);
    }

    for (const page of [alice, bob]) {
      await page.waitForState('open');
      await page.page
        .locator('[data-testid=notice][data-kind=resumed]', { hasText: RESUMED })
        .waitFor({ timeout: WAIT });
      expect(await page.page.locator('[data-testid=attempt]').innerText()).to.match(/^\(attempt [1-9]\d*\)$/);
    }
    await alice.send('alice: back');
    await bob.send('bob: back');

    const said = [
      'alice: hello',
      'bob: hi alice',
      'alice: 1',
      'bob: 1',
      'alice: 2',
      'server: while you were away',
      'alice: offline',
      'bob: offline',
      'alice: back',
      'bob: back',
    ];
    for (const page of [alice, bob]) {
      for (const text of said.slice(1)) await page.waitForMessage(text);
      await page.page.locator('[data-testid=unacknowledged]', { hasText: /^0$/ }).waitFor({ timeout: WAIT });
    }
    // The room: each message stored once, though those in flight at the cut were sent again.
    expect([...stored].sort()).to.deep.equal([...said].sort());
    for (const page of [alice, bob]) {
      // Each message once, in the room's one order, from the first the page got: no hole, none twice.
      const shown = await page.messages();
      expect(shown, page.name).to.deep.equal(stored.slice(stored.indexOf(shown[0] as string)));
      expect(shown, page.name).to.include.members(said.slice(1));
      const offsets = await page.offsets();
      expect(offsets, page.name).to.deep.equal(shown.map((_, i) => (offsets[0] as number) + i));
      // Open, cut, offline, open again: the notice once it had resumed, and no other.
      const { statesShown, noticesShown } = await page.shown();
      const opened = statesShown.indexOf('open') + 1;
      expect(statesShown.slice(0, opened).join(' '), page.name).to.match(/^(idle )?connecting open$/);
      expect(statesShown.slice(opened).join(' '), page.name).to.match(
        /^reconnecting (connecting reconnecting )*connecting open$/,
      );
      expect(noticesShown, page.name).to.deep.equal([`open: ${RESUMED}`]);
    }
    mkdirSync(join(HERE, 'artifacts'), { recursive: true });
    await alice.page.screenshot({ path: SCREENSHOT });
  });
});
