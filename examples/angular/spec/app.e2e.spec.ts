// The built app (`ng build`, which `npm test` runs first) in Debian's headless Chromium (or the
// Chromium or Chrome at $CHROMIUM_PATH), driven by playwright-core (which brings no browser of its
// own), served by server.mjs: the app over HTTP and an rx-websocket-peer listen() server on /chat
// that ticks every 100 ms. The page is opened with ?maxQueuedWrites=3: three sends may wait while
// the server is down.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { expect } from 'chai';
import { type BrowserContext, chromium, type Page } from 'playwright-core';
import { filter, firstValueFrom, take, timeout, toArray } from 'rxjs';
import { APP_ROOT, startChatServer } from '../server.mjs';

const HERE = resolve(import.meta.dirname, '..');
const STATS = join(HERE, 'dist/chat/stats.json');
const SCREENSHOT = join(HERE, 'artifacts/app.png');
const CHROMIUM = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';
const MAX_QUEUED_WRITES = 3;
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

describe('the Angular app in Chromium', function () {
  this.timeout(30_000);

  let server: Awaited<ReturnType<typeof startChatServer>> | undefined;
  let context: BrowserContext | undefined;
  let page: Page;
  let profile: string | undefined;
  const pageErrors: string[] = [];
  /** console.error() calls of the page: Angular's ErrorHandler logs what an event handler threw. */
  const consoleErrors: string[] = [];

  const state = (): Promise<string> => page.locator('[data-testid=state]').innerText();
  const messages = (): Promise<string[]> => page.locator('[data-testid=messages] li').allInnerTexts();
  /** Waits until the page shows connection state `expected`. */
  const waitForState = (expected: string): Promise<unknown> =>
    page.locator('[data-testid=state]', { hasText: new RegExp(`^${expected}$`) }).waitFor({ timeout: WAIT });
  /** Waits until the page shows `expected` sends waiting for the connection. */
  const waitForQueued = (expected: number): Promise<unknown> =>
    page.locator('[data-testid=queued]', { hasText: new RegExp(`^${expected}$`) }).waitFor({ timeout: WAIT });
  /** Types `text` and clicks Send. */
  const send = async (text: string): Promise<void> => {
    await page.locator('[data-testid=text]').fill(text);
    await page.locator('[data-testid=send]').click();
  };
  /** Stops the server (gracefully: its peers close with 1001) and waits for the page to notice. */
  const stopServer = async (): Promise<number> => {
    const { port } = server!;
    await server!.stop();
    server = undefined;
    await waitForState('reconnecting');
    return port;
  };

  before(async function () {
    this.timeout(60_000);
    if (!existsSync(join(APP_ROOT, 'index.html'))) {
      throw new Error(
        `no built app in ${APP_ROOT}: run \`npm run test:angular\` (it builds first) or \`npx ng build\``,
      );
    }
    // The root's scripts/testTools.mjs lists the packages; this project does not import from it.
    if (process.env['RXWP_TEST_WITHOUT']?.split(',').some((name) => name.trim() === 'chromium')) this.skip();
    if (!existsSync(CHROMIUM)) {
      throw new Error(
        `the Debian package chromium is missing (${CHROMIUM}): \`npm test\` installs it when run as root; ` +
          'or run `apt-get update && apt-get install -y --no-install-recommends chromium`, or set RXWP_TEST_WITHOUT=chromium',
      );
    }
    server = await startChatServer({ port: 0, tickInterval: 100 });
    profile = mkdtempSync(join(tmpdir(), 'rxwp-angular-chromium-'));
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_ARGS,
    });
    page = context.pages()[0] ?? (await context.newPage());
    page.on('pageerror', (error) => pageErrors.push(String(error.stack ?? error)));
    page.on('console', (message) => {
      if (message.type() === 'error') consoleErrors.push(message.text());
    });
    await page.goto(`${server.url}?maxQueuedWrites=${MAX_QUEUED_WRITES}`);
  });

  after(async () => {
    await context?.close();
    await server?.stop();
    if (profile) rmSync(profile, { recursive: true, force: true });
  });

  afterEach(() => {
    expect(pageErrors, 'uncaught errors in the page').to.deep.equal([]);
    // Chromium's own lines about a WebSocket that could not connect are no errors of the app.
    const appErrors = consoleErrors.filter((text) => !/^WebSocket connection to '[^']+' failed/.test(text));
    expect(appErrors, 'console.error() in the page').to.deep.equal([]);
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

  it("shows the state 'open' and the server's live messages", async () => {
    await waitForState('open');
    await page.waitForFunction(() => document.querySelectorAll('[data-testid=messages] li').length >= 4, undefined, {
      timeout: WAIT,
    });
    const shown = await messages();
    expect(shown[0]).to.match(/^welcome, 127\.0\.0\.1:\d+$/);
    // Ticks every 100 ms, in order, none lost: tick n, n+1, n+2...
    const ticks = shown.slice(1).map((text) => Number(/^tick (\d+)$/.exec(text)?.[1]));
    expect(ticks.length).to.be.at.least(3);
    ticks.forEach((tick, i) => expect(tick).to.equal((ticks[0] as number) + i));
  });

  it('sends what is typed to the server, which echoes it to every peer', async () => {
    const received = firstValueFrom(
      server!.received$.pipe(
        filter((text) => text === 'hello from Chromium'),
        timeout(WAIT),
      ),
    );
    await send('hello from Chromium');
    expect(await received).to.equal('hello from Chromium');
    await page
      .locator('[data-testid=messages] li', { hasText: /^\d+ says: hello from Chromium$/ })
      .waitFor({ timeout: WAIT });
    expect(await page.locator('[data-testid=text]').inputValue()).to.equal('');
    expect(await page.locator('[data-testid=queued]').innerText()).to.equal('0');
    mkdirSync(join(HERE, 'artifacts'), { recursive: true });
    await page.screenshot({ path: SCREENSHOT });
  });

  it('shows the reconnection when the server restarts, then live messages again', async () => {
    const port = await stopServer();
    server = await startChatServer({ port, tickInterval: 100 });
    await waitForState('open');
    expect(await page.locator('[data-testid=attempt]').innerText()).to.match(/^\(attempt [1-9]\d*\)$/);
    await page
      .locator('[data-testid=messages] li', { hasText: /^welcome, / })
      .nth(1)
      .waitFor({ timeout: WAIT });
    expect(await state()).to.equal('open');
  });

  it('shows the sends that wait while the server is down, then 0 once they reached it', async () => {
    const port = await stopServer();
    await send('offline 1');
    await waitForQueued(1);
    expect(await page.locator('[data-testid=text]').inputValue()).to.equal(''); // taken
    await send('offline 2');
    await waitForQueued(2);
    expect(await state()).to.not.equal('open');

    server = await startChatServer({ port, tickInterval: 100 });
    const received = firstValueFrom(server.received$.pipe(take(2), toArray(), timeout(WAIT)));
    await waitForState('open');
    expect(await received).to.deep.equal(['offline 1', 'offline 2']);
    await waitForQueued(0);
    await page.locator('[data-testid=messages] li', { hasText: /^\d+ says: offline 2$/ }).waitFor({ timeout: WAIT });
    expect(await page.locator('[data-testid=send-error]').count()).to.equal(0);
  });

  it('shows a send refused by the full queue (ERR_QUEUE_FULL) in the page, keeps its text, and clears it once one is taken', async () => {
    const port = await stopServer();
    const queued = Array.from({ length: MAX_QUEUED_WRITES }, (_, i) => `queued ${i + 1}`);
    for (const [i, text] of queued.entries()) {
      await send(text);
      await waitForQueued(i + 1);
    }
    await send('one too many');

    const error = page.locator('[data-testid=send-error]');
    await error.waitFor({ timeout: WAIT });
    expect(await error.innerText()).to.match(/^Not sent: “one too many”\. ERR_QUEUE_FULL \S/);
    expect(await error.getAttribute('role')).to.equal('alert');
    expect(await page.locator('[data-testid=text]').inputValue()).to.equal('one too many');
    expect(await page.locator('[data-testid=queued]').innerText()).to.equal(String(MAX_QUEUED_WRITES));

    server = await startChatServer({ port, tickInterval: 100 });
    const received = firstValueFrom(server.received$.pipe(take(MAX_QUEUED_WRITES + 1), toArray(), timeout(WAIT)));
    await waitForState('open');
    await waitForQueued(0);
    expect(await error.count()).to.equal(1); // until a send is taken
    await page.locator('[data-testid=send]').click(); // the text still in the box
    await error.waitFor({ state: 'detached', timeout: WAIT });
    expect(await received).to.deep.equal([...queued, 'one too many']);
  });
});
