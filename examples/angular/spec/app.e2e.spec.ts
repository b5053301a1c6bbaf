// The built app (`ng build`, which `npm test` runs first) in Debian's headless Chromium (or the
// Chromium or Chrome at $CHROMIUM_PATH), driven by playwright-core (which brings no browser of its
// own), served by server.mjs: the app over HTTP and an rx-websocket-peer listen() server on /chat
// that ticks every 100 ms.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { expect } from 'chai';
import { type BrowserContext, chromium, type Page } from 'playwright-core';
import { filter, firstValueFrom, timeout } from 'rxjs';
import { APP_ROOT, startChatServer } from '../server.mjs';

const HERE = resolve(import.meta.dirname, '..');
const STATS = join(HERE, 'dist/chat/stats.json');
const SCREENSHOT = join(HERE, 'artifacts/app.png');
const CHROMIUM = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';
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

  const state = (): Promise<string> => page.locator('[data-testid=state]').innerText();
  const messages = (): Promise<string[]> => page.locator('[data-testid=messages] li').allInnerTexts();
  /** Waits until the page shows connection state `expected`. */
  const waitForState = (expected: string): Promise<unknown> =>
    page.locator('[data-testid=state]', { hasText: new RegExp(`^${expected}$`) }).waitFor({ timeout: WAIT });

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
    await page.goto(server.url);
  });

  after(async () => {
    await context?.close();
    await server?.stop();
    if (profile) rmSync(profile, { recursive: true, force: true });
  });

  afterEach(() => expect(pageErrors, 'uncaught errors in the page').to.deep.equal([]));

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
    await page.locator('[data-testid=text]').fill('hello from Chromium');
    await page.locator('[data-testid=send]').click();
    expect(await received).to.equal('hello from Chromium');
    await page
      .locator('[data-testid=messages] li', { hasText: /^\d+ says: hello from Chromium$/ })
      .waitFor({ timeout: WAIT });
    expect(await page.locator('[data-testid=text]').inputValue()).to.equal('');
    mkdirSync(join(HERE, 'artifacts'), { recursive: true });
    await page.screenshot({ path: SCREENSHOT });
  });

  it('shows the reconnection when the server restarts, then live messages again', async () => {
    const { port } = server!;
    await server!.stop(); // its peers close with 1001 (going away)
    server = undefined;
    await waitForState('reconnecting');
    server = await startChatServer({ port, tickInterval: 100 });
    await waitForState('open');
    expect(await page.locator('[data-testid=attempt]').innerText()).to.match(/^\(attempt [1-9]\d*\)$/);
    await page
      .locator('[data-testid=messages] li', { hasText: /^welcome, / })
      .nth(1)
      .waitFor({ timeout: WAIT });
    expect(await state()).to.equal('open');
  });
});
