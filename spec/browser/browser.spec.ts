// The browser build, in a real browser: src/index.browser.ts bundled with esbuild as an app's
// bundler would, loaded in Debian's headless Chromium (driven by playwright-core, which brings no
// browser of its own), talking to our Node listen() server on 127.0.0.1. Plus the bundle itself:
// no ws, no node: module; and server-side rendering, in a Node process with no WebSocket.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { builtinModules, createRequire } from 'node:module';
import { createServer as createTcpServer, type Server as TcpServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { expect } from 'chai';
import * as esbuild from 'esbuild';
import {
  catchError,
  EMPTY,
  firstValueFrom,
  lastValueFrom,
  map,
  type Subscription,
  switchMap,
  take,
  tap,
  toArray,
} from 'rxjs';
import { listen, type ListenOptions } from '../../src/observables/listen.js';
import type { CloseInfo, Packet, PeerState } from '../../src/peer/types.js';
import { WebSocketCloseError } from '../../src/errors/WebSocketCloseError.js';
import type { WebSocketPeer } from '../../src/peer/WebSocketPeer.js';
import { memoryRooms } from '../../src/rooms/memoryRooms.js';
import { ROOMS_PROTOCOL } from '../../src/rooms/protocol.js';
import { serveRooms } from '../../src/rooms/serveRooms.js';
import type { Position } from '../../src/rooms/types.js';
import { closePayload, frame, Opcode } from '../fixtures/rawWebSocket.js';
import { delay, internalsOf, needsTool } from '../helpers.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const ROOT = resolve(import.meta.dirname, '../..');
const ENTRY = join(ROOT, 'src/index.browser.ts');
const CHROMIUM = '/usr/bin/chromium';
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

// ---------------------------------------------------------------------------------------------
// playwright-core, through the few members we use: its own type declarations need the DOM lib,
// which tsconfig.json (a Node project) does not load.

interface Page {
  goto(url: string): Promise<unknown>;
  evaluate<R, A = undefined>(fn: (arg: A) => R | Promise<R>, arg?: A): Promise<R>;
  evaluate(expression: string): Promise<unknown>;
  waitForFunction(expression: string, arg: undefined, options: { timeout: number }): Promise<unknown>;
  on(event: 'pageerror', listener: (error: Error) => void): void;
}
interface BrowserContext {
  pages(): Page[];
  newPage(): Promise<Page>;
  addInitScript(script: string): Promise<void>;
  close(): Promise<void>;
}
interface Playwright {
  chromium: {
    launchPersistentContext(
      userDataDir: string,
      options: { executablePath: string; headless: boolean; args: string[] },
    ): Promise<BrowserContext>;
  };
}
const { chromium } = createRequire(import.meta.url)('playwright-core') as Playwright;

// ---------------------------------------------------------------------------------------------
// Bundling, and what a browser bundle must not contain

interface Bundle {
  code: string;
  /** The source files that went in, relative to the repository. */
  inputs: string[];
  /** Imports of Node-only modules (`ws`, `node:*`, Node built-ins), `what (from where)`. */
  nodeOnly: string[];
}

const NODE_BUILTINS = new Set(builtinModules);
const isNodeOnly = (path: string): boolean =>
  path === 'ws' ||
  path.startsWith('ws/') ||
  path.startsWith('node:') ||
  NODE_BUILTINS.has(path.split('/')[0] as string);

/**
 * Bundles for the browser as an app's bundler would (esbuild, Vite and the Angular CLI all
 * resolve with the `browser` condition). Imports of Node-only modules are recorded and left
 * external, so that the checks below can fail with a list instead of a resolve error.
 */
async function bundle(options: esbuild.BuildOptions): Promise<Bundle> {
  const nodeOnly: string[] = [];
  const result = await esbuild.build({
    absWorkingDir: ROOT,
    bundle: true,
    platform: 'browser',
    format: 'esm',
    conditions: ['browser'],
    target: 'es2022',
    write: false,
    metafile: true,
    logLevel: 'silent',
    ...options,
    plugins: [
      {
        name: 'record-node-only-imports',
        setup(build) {
          build.onResolve({ filter: /.*/ }, (args) => {
            if (args.kind === 'entry-point' || !isNodeOnly(args.path)) return undefined;
            nodeOnly.push(`${args.path} (from ${relative(ROOT, args.importer)})`);
            return { path: args.path, external: true };
          });
        },
      },
      ...(options.plugins ?? []),
    ],
  });
  const [output] = result.outputFiles ?? [];
  return { code: output?.text ?? '', inputs: Object.keys(result.metafile?.inputs ?? {}), nodeOnly };
}

/** What in `bundled` comes from Node: ws's code, Node-only imports, imports left in the output. */
function nodeTraces({ code, inputs, nodeOnly }: Bundle): string[] {
  const traces = [...nodeOnly];
  traces.push(...inputs.filter((input) => /(^|\/)node_modules\/ws\//.test(input)).map((input) => `ws code: ${input}`));
  const imports = /\b(?:from|import|require)\s*\(?\s*["']([^"']+)["']/g;
  for (const [, path] of code.matchAll(imports))
    if (isNodeOnly(path as string)) traces.push(`import of '${path}' in the output`);
  // ws's browser stub (its package.json `browser` field) would throw this at run time.
  if (code.includes('ws does not work in the browser')) traces.push("ws's browser stub");
  return traces;
}

// ---------------------------------------------------------------------------------------------
// Our Node side: listen() servers on 127.0.0.1

interface NodeSide {
  url: string;
  /** The next peer that opens on a path other than /echo (those echo by themselves). */
  next(): Promise<WebSocketPeer>;
  stop(): void;
}

/** Every Node peer of the suite, so that afterEach can close those a failed test left open. */
const nodePeers = new Set<WebSocketPeer>();

function startNodeSide(options: ListenOptions = {}): Promise<NodeSide> {
  return new Promise((resolvePromise, reject) => {
    const waiting: WebSocketPeer[] = [];
    const takers: Array<(peer: WebSocketPeer) => void> = [];
    const subscription: Subscription = listen({ host: '127.0.0.1', port: 0, ...options }).subscribe({
      next: (server) => {
        subscription.add(
          server.peers$.subscribe((peer) => {
            nodePeers.add(peer);
            peer.closed$.subscribe(() => nodePeers.delete(peer));
            if (peer.handshake.url.startsWith('/echo')) {
              peer.packets$
                .pipe(
                  tap(peer.sink),
                  catchError(() => EMPTY),
                )
                .subscribe();
              return;
            }
            const taker = takers.shift();
            if (taker) taker(peer);
            else waiting.push(peer);
          }),
        );
        resolvePromise({
          url: `ws://127.0.0.1:${server.port}`,
          next: () => {
            const ready = waiting.shift();
            if (ready) return Promise.resolve(ready);
            return new Promise((resolveNext, rejectNext) => {
              const timer = setTimeout(() => {
                takers.splice(takers.indexOf(taker), 1);
                rejectNext(new Error('no peer connected to the Node side within 5 s'));
              }, 5000);
              const taker = (peer: WebSocketPeer): void => {
                clearTimeout(timer);
                resolveNext(peer);
              };
              takers.push(taker);
            });
          },
          stop: () => subscription.unsubscribe(),
        });
      },
      error: reject,
    });
  });
}

/** Each packet with what `wasStringPacket()` said right after it was taken. */
function takePackets(peer: WebSocketPeer, count: number): Promise<Array<Packet & { was: boolean }>> {
  return firstValueFrom(
    peer.packets$.pipe(
      map((packet) => ({ ...packet, was: peer.wasStringPacket() })),
      take(count),
      toArray(),
    ),
  );
}

const stateLog = (peer: WebSocketPeer): PeerState[] => {
  const states: PeerState[] = [];
  peer.state$.subscribe((state) => states.push(state));
  return states;
};

// ---------------------------------------------------------------------------------------------
// The page: what runs in Chromium

type Lib = typeof import('../../src/index.browser.js');
type Rx = typeof import('rxjs');

/** An error as the page reports it: the fields the library promises, and its classes. */
interface ErrorInfo {
  name: string;
  code: unknown;
  message: string;
  rangeError: boolean;
  typeError: boolean;
  peerError: boolean;
  closeError: boolean;
  wasClean?: unknown;
}

type Attempt = { threw: false; value?: unknown } | ({ threw: true } & ErrorInfo);

/** A packet as the page saw it: the kind of `data` as the browser tells it, and `wasStringPacket()`. */
interface SeenPacket {
  isString: boolean;
  type: string;
  data: string | number[];
  was: boolean;
}

interface Opened {
  peer: InstanceType<Lib['WebSocketPeer']>;
  /** Every `state$` value, from the subscription made when the peer was emitted. */
  states: string[];
  /** How `connect()` ended: `'complete'` or the error. */
  ended: Promise<'complete' | ErrorInfo>;
  subscription: Subscription;
}

interface PageHelpers {
  info(error: unknown): ErrorInfo;
  attempt(fn: () => unknown): Attempt;
  open(url: string, options?: Parameters<Lib['connect']>[1]): Promise<Opened>;
  /** How `connect(url, options)` ends when it never opens. */
  failure(url: string, options?: Parameters<Lib['connect']>[1]): Promise<{ error: ErrorInfo; ms: number }>;
  until(check: () => boolean, what: string, ms?: number): Promise<void>;
  take(peer: Opened['peer'], count: number): Promise<SeenPacket[]>;
  seen(packet: Packet, was: boolean): SeenPacket;
  sleep(ms: number): Promise<void>;
  hex(bytes: ArrayBuffer): string;
}

/** The page's globals, as the functions given to `page.evaluate()` use them. */
interface PageGlobals {
  lib: Lib;
  rxjs: Rx;
  h: PageHelpers;
  /** Subscriptions a test made; afterEach ends them (closing their connections). */
  subs: Subscription[];
  /** Scratch space between the `evaluate()` calls of one test. */
  t: { opened?: Opened; [key: string]: unknown };
  crypto: {
    subtle: { digest(algorithm: string, data: Uint8Array): Promise<ArrayBuffer> };
    getRandomValues<T extends Uint8Array>(array: T): T;
  };
  WebSocket: { prototype: { send(data: unknown): void } } | undefined;
}

const PAGE = `<!doctype html>
<meta charset="utf-8">
<title>rx-websocket-peer in the browser</title>
<script type="module">
  import('/app.js').then(
    (app) => { window.lib = app.lib; window.rxjs = app.rxjs; window.loaded = true; },
    (error) => { window.loadError = String(error && error.stack || error); },
  );
</script>`;

/** The app the page loads: the library from its browser entry, and the same RxJS it uses. */
const APP_ENTRY = `export * as lib from ${JSON.stringify(ENTRY)};\nexport * as rxjs from 'rxjs';\n`;

function serveHttp(
  files: Record<string, { type: string; body: string }>,
): Promise<{ server: HttpServer; origin: string }> {
  return new Promise((resolvePromise) => {
    const server = createHttpServer((request, response) => {
      const file = files[(request.url ?? '/').split('?')[0] as string];
      if (!file) {
        response.writeHead(404).end();
        return;
      }
      response.writeHead(200, { 'content-type': file.type, 'cache-control': 'no-store' }).end(file.body);
    });
    server.listen(0, '127.0.0.1', () => {
      resolvePromise({ server, origin: `http://127.0.0.1:${(server.address() as { port: number }).port}` });
    });
  });
}

/** Installs the page helpers (`globalThis.h`); runs in the page. */
function installHelpers(): void {
  const g = globalThis as unknown as PageGlobals;
  const info = (error: unknown): ErrorInfo => {
    const e = error as { name?: unknown; code?: unknown; message?: unknown; wasClean?: unknown };
    return {
      name: String(e?.name),
      code: e?.code,
      message: String(e?.message),
      rangeError: error instanceof RangeError,
      typeError: error instanceof TypeError,
      peerError: error instanceof g.lib.WebSocketPeerError,
      closeError: error instanceof g.lib.WebSocketCloseError,
      ...(error instanceof g.lib.WebSocketCloseError && { wasClean: e.wasClean }),
    };
  };
  const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
  const seen = (packet: Packet, was: boolean): SeenPacket => ({
    isString: packet.isString,
    type: typeof packet.data === 'string' ? 'string' : Object.prototype.toString.call(packet.data).slice(8, -1),
    data: typeof packet.data === 'string' ? packet.data : Array.from(packet.data),
    was,
  });
  g.subs = [];
  g.t = {};
  g.h = {
    info,
    sleep,
    seen,
    attempt(fn) {
      try {
        return { threw: false, value: fn() };
      } catch (error) {
        return { threw: true, ...info(error) };
      }
    },
    open(url, options) {
      return new Promise((resolveOpen, rejectOpen) => {
        let settle: (how: 'complete' | ErrorInfo) => void = () => {};
        const ended = new Promise<'complete' | ErrorInfo>((r) => (settle = r));
        let opened = false;
        const subscription = g.lib.connect(url, options).subscribe({
          next: (peer) => {
            opened = true;
            const states: string[] = [];
            peer.state$.subscribe((state) => states.push(state));
            resolveOpen({ peer, states, ended, subscription });
          },
          error: (error: unknown) =>
            opened ? settle(info(error)) : rejectOpen(new Error(`connect() failed: ${JSON.stringify(info(error))}`)),
          complete: () => settle('complete'),
        });
        g.subs.push(subscription);
      });
    },
    failure(url, options) {
      const start = performance.now();
      return new Promise((resolveFailure, rejectFailure) => {
        g.subs.push(
          g.lib.connect(url, options).subscribe({
            next: () => rejectFailure(new Error('it opened')),
            error: (error: unknown) => resolveFailure({ error: info(error), ms: performance.now() - start }),
            complete: () => rejectFailure(new Error('it completed')),
          }),
        );
      });
    },
    async until(check, what, ms = 8000) {
      const start = performance.now();
      while (!check()) {
        if (performance.now() - start > ms) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
        await sleep(5);
      }
    },
    take(peer, count) {
      return new Promise((resolveTake, rejectTake) => {
        const got: SeenPacket[] = [];
        const timer = setTimeout(() => {
          subscription.unsubscribe();
          rejectTake(new Error(`got ${got.length} of ${count} packets: ${JSON.stringify(got)}`));
        }, 8000);
        const subscription = peer.packets$.subscribe({
          next: (packet) => {
            got.push(seen(packet, peer.wasStringPacket()));
            if (got.length === count) {
              clearTimeout(timer);
              subscription.unsubscribe();
              resolveTake(got);
            }
          },
          error: (error: unknown) => rejectTake(new Error(`packets$ errored: ${JSON.stringify(info(error))}`)),
          complete: () => rejectTake(new Error(`packets$ completed after ${got.length} packets`)),
        });
      });
    },
    hex(bytes) {
      return Array.from(new Uint8Array(bytes), (b) => b.toString(16).padStart(2, '0')).join('');
    },
  };
}

// ---------------------------------------------------------------------------------------------

describe('the browser build', function () {
  this.timeout(20_000);

  let libBundle: Bundle;
  let appBundle: Bundle;
  let context: BrowserContext | undefined;
  let page: Page;
  let profile: string | undefined;
  let http: HttpServer | undefined;
  let node: NodeSide;
  let slow: NodeSide;
  const pageErrors: string[] = [];

  /** Runs `fn(arg)` in the page; fails if the page threw an uncaught error meanwhile. */
  async function inPage<A, R>(fn: (arg: A) => R | Promise<R>, arg: A): Promise<R> {
    const result = await page.evaluate(fn, arg);
    expect(pageErrors, 'uncaught errors in the page').to.deep.equal([]);
    return result;
  }

  before(async function () {
    this.timeout(60_000);
    if (!existsSync(ENTRY)) throw new Error(`${relative(ROOT, ENTRY)} is missing`);
    needsTool('chromium');
    // rxjs is bundled in: an app's bundle carries it.
    libBundle = await bundle({ entryPoints: [ENTRY] });
    appBundle = await bundle({ stdin: { contents: APP_ENTRY, resolveDir: ROOT, sourcefile: 'app.js' } });

    ({ server: http } = await serveHttp({
      '/': { type: 'text/html; charset=utf-8', body: PAGE },
      '/app.js': { type: 'text/javascript; charset=utf-8', body: appBundle.code },
    }));
    const origin = `http://127.0.0.1:${(http.address() as { port: number }).port}`;
    node = await startNodeSide();
    // A Node side that stops reading early: its peers' inbound queues hold 256 KiB, so a sender
    // that nobody reads from soon has its bytes wait in its own buffer.
    slow = await startNodeSide({ maxQueuedBytes: 256 * KiB });

    // A fresh profile of our own, removed in after(); playwright-core downloads no browser.
    profile = mkdtempSync(join(tmpdir(), 'rxwp-chromium-'));
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_ARGS,
    });
    // tsx compiles this file with esbuild's keepNames, which calls __name() inside the functions
    // we hand to evaluate(); the page needs it too.
    await context.addInitScript('globalThis.__name = (target) => target;');
    page = context.pages()[0] ?? (await context.newPage());
    page.on('pageerror', (error) => pageErrors.push(String(error.stack ?? error)));
    await page.goto(origin);
    await page.waitForFunction('window.loaded || window.loadError', undefined, { timeout: 10_000 });
    const loadError = await page.evaluate('window.loadError');
    if (loadError) throw new Error(`the page could not load the bundle: ${String(loadError)}`);
    await page.evaluate(installHelpers);
  });

  afterEach(async () => {
    pageErrors.length = 0;
    if (context) {
      await page
        .evaluate(() => {
          const g = globalThis as unknown as PageGlobals;
          for (const subscription of g.subs.splice(0)) subscription.unsubscribe();
          g.t = {};
        })
        .catch(() => {});
    }
    for (const peer of nodePeers) if (peer.isConnectedToHost()) peer.close();
  });

  after(async () => {
    await context?.close();
    if (profile) rmSync(profile, { recursive: true, force: true });
    node?.stop();
    slow?.stop();
    await new Promise((r) => (http ? http.close(r) : r(undefined)));
  });

  describe('bundle', () => {
    it('has neither ws nor any node: module in it', () => {
      expect(nodeTraces(libBundle), 'Node-only code in the browser bundle').to.deep.equal([]);
      expect(nodeTraces(appBundle), 'Node-only code in the app bundle').to.deep.equal([]);
      expect(libBundle.inputs.some((input) => input.includes('node_modules/rxjs/'))).to.equal(true);
      expect(libBundle.inputs).to.include('src/transport/browser/BrowserTransport.ts');
      expect(libBundle.inputs).not.to.include('src/transport/node/NodeTransport.ts');
    });

    it('(the check above catches the Node entry, which pulls ws)', async () => {
      const nodeEntry = await bundle({ entryPoints: [join(ROOT, 'src/index.ts')] });
      const traces = nodeTraces(nodeEntry);
      expect(traces.some((trace) => trace.startsWith('ws '))).to.equal(true);
      expect(traces.some((trace) => trace.startsWith('node:'))).to.equal(true);
    });

    it("is what the package's exports map gives a bundler under the browser condition", async () => {
      const built = join(ROOT, 'dist/esm/index.browser.js');
      if (!existsSync(built)) throw new Error('dist/esm/index.browser.js is missing: npm run build');
      // An app with the package in its node_modules (a symlink to this repository).
      const app = mkdtempSync(join(tmpdir(), 'rxwp-app-'));
      try {
        mkdirSync(join(app, 'node_modules'));
        symlinkSync(ROOT, join(app, 'node_modules/rx-websocket-peer'), 'dir');
        const stdin = { contents: "export * from 'rx-websocket-peer';", resolveDir: app, sourcefile: 'main.js' };
        const external = ['rxjs'];
        const browser = await bundle({ stdin, external });
        expect(browser.inputs).to.include('dist/esm/index.browser.js');
        expect(nodeTraces(browser)).to.deep.equal([]);
        // And Node-side bundles (SSR builds, scripts) still get the Node build.
        const forNode = await bundle({ stdin, external, platform: 'node', conditions: [] });
        expect(forNode.inputs).to.include('dist/esm/index.js');
        expect(forNode.inputs).not.to.include('dist/esm/index.browser.js');
      } finally {
        rmSync(app, { recursive: true, force: true });
      }
    });
  });

  describe('server-side rendering (Node, no WebSocket)', () => {
    it('imports without doing anything, and connect() errors with ERR_NOT_SUPPORTED', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'rxwp-ssr-'));
      try {
        const file = join(dir, 'lib.mjs');
        writeFileSync(file, libBundle.code);
        const script = `
          delete globalThis.WebSocket; // Node 20 has none; Node 22 has one
          const timers = [];
          for (const name of ['setTimeout', 'setInterval', 'setImmediate', 'queueMicrotask']) {
            const original = globalThis[name];
            globalThis[name] = (...args) => { timers.push(name); return original(...args); };
          }
          const { setImmediate: settle } = await import('node:timers');
          const settled = async () => {
            // Let the module loader close its file; then count what is still open.
            for (let i = 0; i < 5; i++) await new Promise((r) => settle(r));
            return process.getActiveResourcesInfo();
          };
          const resourcesBefore = await settled();
          const lib = await import(${JSON.stringify(pathToFileURL(file).href)});
          const timersOnImport = timers.splice(0);
          const resourcesAfter = await settled();
          let threw = null;
          let observable;
          try { observable = lib.connect('ws://127.0.0.1:9/'); } catch (e) { threw = e.code ?? String(e); }
          const ended = await new Promise((resolve) => {
            if (!observable) return resolve(null);
            let sync = true;
            observable.subscribe({
              next: () => resolve({ how: 'next' }),
              complete: () => resolve({ how: 'complete' }),
              error: (e) => resolve({ how: 'error', name: e.name, code: e.code, peerError: e instanceof lib.WebSocketPeerError, sync }),
            });
            sync = false;
          });
          process.stdout.write(JSON.stringify({
            timersOnImport, resourcesBefore, resourcesAfter, threw, ended,
            exports: Object.keys(lib).length,
          }));
        `;
        const started = Date.now();
        const stdout = await new Promise<string>((resolveRun, rejectRun) => {
          execFile(process.execPath, ['--input-type=module', '-e', script], { timeout: 10_000 }, (error, out, err) =>
            error ? rejectRun(new Error(`${error.message}\n${err}`)) : resolveRun(out),
          );
        });
        const result = JSON.parse(stdout) as {
          timersOnImport: string[];
          resourcesBefore: string[];
          resourcesAfter: string[];
          threw: unknown;
          ended: unknown;
          exports: number;
        };
        expect(result.exports).to.be.greaterThan(10);
        expect(result.timersOnImport, 'timers started by the import').to.deep.equal([]);
        expect(result.resourcesAfter, 'handles opened by the import').to.deep.equal(result.resourcesBefore);
        expect(result.threw, 'connect() threw instead of erroring on subscribe').to.equal(null);
        expect(result.ended).to.deep.equal({
          how: 'error',
          name: 'WebSocketPeerError',
          code: 'ERR_NOT_SUPPORTED',
          peerError: true,
          sync: true,
        });
        // The process ended by itself: nothing the library left behind kept it alive.
        expect(Date.now() - started).to.be.lessThan(9000);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });

  describe('in Chromium', () => {
    it('exports the same names as the Node entry', async () => {
      const names = await inPage(() => Object.keys((globalThis as unknown as PageGlobals).lib).sort(), undefined);
      expect(names).to.deep.equal(Object.keys(await import('../../src/index.js')).sort());
    });

    it('sends and receives text and binary, with wasStringPacket(), both ways', async () => {
      const remoteOpened = node.next();
      const browserSide = inPage(
        async ({ url }) => {
          const { lib, h } = globalThis as unknown as PageGlobals;
          const { peer, states } = await h.open(`${url}/both`, { protocols: ['chat'] });
          const firstState = [...states];
          peer.sink.next('héllo ✓');
          peer.sink.next({ isString: false, data: new Uint8Array([0, 1, 2, 255]) });
          peer.setWriteMode(lib.WriteMode.Binary);
          peer.sink.next(new Uint8Array([9, 8, 7]));
          peer.sink.next('as binary');
          // A view on part of a larger buffer: only its own bytes go.
          peer.sink.next(new Uint8Array([100, 101, 102, 103, 104]).subarray(1, 3));
          peer.setWriteMode(lib.WriteMode.Text);
          peer.putPacket(new TextEncoder().encode('utf-8 bytes as text'));
          const taken = await h.take(peer, 3);
          // The fourth waits in the peer for getPacket(): one inbound queue.
          await h.until(() => peer.getAvailablePacketCount() === 1, 'the fourth packet');
          const polled = peer.getPacket();
          return {
            firstState,
            protocol: peer.getSelectedProtocol(),
            taken,
            polled: polled && h.seen(polled, peer.wasStringPacket()),
            afterPoll: peer.getPacket() ?? null,
          };
        },
        { url: node.url },
      );
      const remote = await remoteOpened;
      const got = await takePackets(remote, 6);
      expect(
        got.map(({ isString, data, was }) => ({ isString, data: isString ? data : Array.from(data), was })),
      ).to.deep.equal([
        { isString: true, data: 'héllo ✓', was: true },
        { isString: false, data: [0, 1, 2, 255], was: false },
        { isString: false, data: [9, 8, 7], was: false },
        { isString: false, data: Array.from(Buffer.from('as binary')), was: false },
        { isString: false, data: [101, 102], was: false },
        { isString: true, data: 'utf-8 bytes as text', was: true },
      ]);
      remote.sink.next('from node ✓');
      remote.putPacket({ isString: false, data: Uint8Array.of(255, 0, 128) });
      remote.putPacket({ isString: false, data: new Uint8Array(0) });
      remote.sink.next('polled');

      const seen = await browserSide;
      expect(seen.firstState).to.deep.equal(['open']);
      expect(seen.protocol).to.equal('chat');
      expect(seen.taken).to.deep.equal([
        { isString: true, type: 'string', data: 'from node ✓', was: true },
        { isString: false, type: 'Uint8Array', data: [255, 0, 128], was: false },
        { isString: false, type: 'Uint8Array', data: [], was: false },
      ]);
      expect(seen.polled).to.deep.equal({ isString: true, type: 'string', data: 'polled', was: true });
      expect(seen.afterPoll).to.equal(null);
    });

    it('sends bytes written in text mode as they are, a leading BOM too', async () => {
      const remoteOpened = node.next();
      const browserSide = inPage(
        async ({ url }) => {
          const { h } = globalThis as unknown as PageGlobals;
          const { peer } = await h.open(`${url}/bom`);
          peer.putPacket(new Uint8Array([0xef, 0xbb, 0xbf, 0x61]));
          peer.sink.next('\ufeffb');
          return h.take(peer, 1);
        },
        { url: node.url },
      );
      const remote = await remoteOpened;
      const got = await takePackets(remote, 2);
      remote.sink.next('\ufeffc');
      const back = await browserSide;
      // A TextDecoder left at its default (ignoreBOM: false) would eat the first three bytes.
      expect(got.map((p) => ({ isString: p.isString, bytes: [...Buffer.from(p.data as string)] }))).to.deep.equal([
        { isString: true, bytes: [0xef, 0xbb, 0xbf, 0x61] },
        { isString: true, bytes: [0xef, 0xbb, 0xbf, 0x62] },
      ]);
      expect(back.map((p) => p.data)).to.deep.equal(['\ufeffc']);
    });

    it('takes the supported connect() options', async () => {
      const remoteOpened = node.next();
      const browserSide = inPage(
        async ({ url }) => {
          const { lib, h } = globalThis as unknown as PageGlobals;
          const { peer } = await h.open(`${url}/options`, {
            protocols: ['v2', 'v1'],
            handshakeTimeout: 5000,
            writeMode: lib.WriteMode.Binary,
            maxQueuedPackets: 10,
            maxQueuedBytes: 1 << 20,
          });
          peer.sink.next('abc');
          return { mode: peer.getWriteMode(), protocol: peer.getSelectedProtocol() };
        },
        { url: node.url },
      );
      const remote = await remoteOpened;
      const [packet] = await takePackets(remote, 1);
      expect(packet?.isString).to.equal(false);
      expect(Buffer.from(packet?.data as Uint8Array).toString()).to.equal('abc');
      expect(await browserSide).to.deep.equal({ mode: 1, protocol: 'v2' });
    });

    it('goes open -> closing -> closed when the browser closes; the code and reason reach Node', async () => {
      const remoteOpened = node.next();
      await inPage(
        async ({ url }) => {
          const g = globalThis as unknown as PageGlobals;
          g.t.opened = await g.h.open(`${url}/browser-closes`);
        },
        { url: node.url },
      );
      const remote = await remoteOpened;
      const remoteStates = stateLog(remote);
      const remoteClosed = firstValueFrom(remote.closed$);
      const remotePackets = firstValueFrom(remote.packets$.pipe(toArray())).catch((error: unknown) => error);
      const seen = await inPage(async () => {
        const { t, h, rxjs } = globalThis as unknown as PageGlobals;
        const { peer, states, ended } = t.opened as Opened;
        const packetsEnd = rxjs.firstValueFrom(peer.packets$.pipe(rxjs.toArray())).then(
          () => 'complete',
          (error: unknown) => h.info(error),
        );
        peer.close(4000, 'bye');
        const right = { states: [...states], connected: peer.isConnectedToHost() };
        const closed = await rxjs.firstValueFrom(peer.closed$);
        return { right, closed, states, ended: await ended, packetsEnd: await packetsEnd };
      }, undefined);
      expect(seen.right).to.deep.equal({ states: ['open', 'closing'], connected: false });
      expect(seen.states).to.deep.equal(['open', 'closing', 'closed']);
      expect(seen.closed).to.deep.equal({ code: 4000, reason: 'bye', wasClean: true });
      // Only a clean 1000 completes: 4000 is a truthful error on both sides, clean as it was.
      const closeError = { name: 'WebSocketCloseError', closeError: true, code: 4000, wasClean: true };
      expect(seen.ended).to.deep.include(closeError);
      expect(seen.packetsEnd).to.deep.include(closeError);
      expect(await remoteClosed).to.deep.equal({ code: 4000, reason: 'bye', wasClean: true } satisfies CloseInfo);
      expect(remoteStates).to.deep.equal(['open', 'closing', 'closed']);
      expect(await remotePackets)
        .to.be.instanceOf(WebSocketCloseError)
        .and.include({ code: 4000, wasClean: true });
    });

    it('goes open -> closing -> closed when Node closes; the code and reason reach the browser', async () => {
      const remoteOpened = node.next();
      const browserSide = inPage(
        async ({ url }) => {
          const { h, rxjs } = globalThis as unknown as PageGlobals;
          const { peer, states, ended } = await h.open(`${url}/node-closes`);
          const closed = await rxjs.firstValueFrom(peer.closed$);
          return { closed, states, ended: await ended, connected: peer.isConnectedToHost() };
        },
        { url: node.url },
      );
      const remote = await remoteOpened;
      remote.close(4001, 'later');
      const seen = await browserSide;
      expect(seen.states).to.deep.equal(['open', 'closing', 'closed']);
      expect(seen.closed).to.deep.equal({ code: 4001, reason: 'later', wasClean: true });
      expect(seen.ended).to.deep.include({ name: 'WebSocketCloseError', code: 4001, wasClean: true });
      expect(seen.connected).to.equal(false);
      expect(await firstValueFrom(remote.closed$)).to.deep.equal({ code: 4001, reason: 'later', wasClean: true });
    });

    it('completes connect() and packets$ only after a clean close with 1000', async () => {
      const remoteOpened = node.next();
      const browserSide = inPage(
        async ({ url }) => {
          const { h, rxjs } = globalThis as unknown as PageGlobals;
          const { peer, ended } = await h.open(`${url}/node-closes-1000`);
          const packetsEnd = rxjs.firstValueFrom(peer.packets$.pipe(rxjs.toArray())).then(
            () => 'complete',
            (error: unknown) => h.info(error),
          );
          return { ended: await ended, packetsEnd: await packetsEnd };
        },
        { url: node.url },
      );
      const remote = await remoteOpened;
      remote.close(1000, 'done');
      expect(await browserSide).to.deep.equal({ ended: 'complete', packetsEnd: 'complete' });
    });

    it("refuses a write once the other side's close frame has come (ERR_PEER_CLOSED), which the browser would drop", async () => {
      // A server that sends its close frame and keeps TCP open: Chrome answers, and waits (2 s)
      // for the TCP close in readyState CLOSING, with no event to tell the page.
      const sockets = new Set<Socket>();
      const raw: TcpServer = createTcpServer((socket) => {
        sockets.add(socket);
        let head = '';
        const onData = (data: Buffer): void => {
          head += data.toString('latin1');
          const key = /^sec-websocket-key:\s*(\S+)/im.exec(head)?.[1];
          if (!head.includes('\r\n\r\n') || !key) return;
          socket.off('data', onData);
          const accept = createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
          socket.write(
            `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`,
          );
          setTimeout(
            () => socket.write(frame({ opcode: Opcode.Close, payload: closePayload(4001, 'later'), mask: false })),
            100,
          );
        };
        socket.on('data', onData);
        socket.on('error', () => {});
      });
      await new Promise<void>((r) => raw.listen(0, '127.0.0.1', r));
      try {
        const attempt = await inPage(
          async ({ url }) => {
            const g = globalThis as unknown as PageGlobals;
            const opened = await g.h.open(url);
            g.t.opened = opened;
            // The transport's WebSocket, only to know when the close frame has come.
            const ws = (opened.peer as unknown as { transport: { ws: { readyState: number } } }).transport.ws;
            await g.h.until(() => ws.readyState !== 1, 'the close frame');
            return { readyState: ws.readyState, write: g.h.attempt(() => opened.peer.putPacket('into the void')) };
          },
          { url: `ws://127.0.0.1:${(raw.address() as { port: number }).port}/` },
        );
        for (const socket of sockets) socket.end();
        const closed = await inPage(async () => {
          const { t, rxjs } = globalThis as unknown as PageGlobals;
          return rxjs.firstValueFrom((t.opened as Opened).peer.closed$);
        }, undefined);
        expect(attempt.readyState, 'CLOSING').to.equal(2);
        expect(attempt.write).to.deep.include({ threw: true, peerError: true, code: 'ERR_PEER_CLOSED' });
        expect(closed).to.deep.include({ code: 4001, reason: 'later' });
      } finally {
        for (const socket of sockets) socket.destroy();
        await new Promise((r) => raw.close(r));
      }
    });

    it('closes with 1000 when the connect() subscription ends', async () => {
      const remoteOpened = node.next();
      const states = inPage(
        async ({ url }) => {
          const { h, rxjs } = globalThis as unknown as PageGlobals;
          const { peer, states: log, subscription } = await h.open(`${url}/unsubscribe`);
          subscription.unsubscribe();
          await rxjs.firstValueFrom(peer.closed$);
          return log;
        },
        { url: node.url },
      );
      const remote = await remoteOpened;
      expect(await firstValueFrom(remote.closed$)).to.deep.equal({ code: 1000, reason: '', wasClean: true });
      expect(await states).to.deep.equal(['open', 'closing', 'closed']);
    });

    it('reports an abnormal end as 1006, not clean: packets$ and connect() error', async () => {
      const remoteOpened = node.next();
      const browserSide = inPage(
        async ({ url }) => {
          const { h, rxjs } = globalThis as unknown as PageGlobals;
          const { peer, ended } = await h.open(`${url}/abnormal`);
          const packets: SeenPacket[] = [];
          const packetsEnd = new Promise<ErrorInfo | 'complete'>((r) =>
            peer.packets$.subscribe({
              next: (p) => packets.push(h.seen(p, peer.wasStringPacket())),
              error: (error: unknown) => r(h.info(error)),
              complete: () => r('complete'),
            }),
          );
          const closed = await rxjs.firstValueFrom(peer.closed$);
          return { closed, packets, packetsEnd: await packetsEnd, ended: await ended };
        },
        { url: node.url },
      );
      const remote = await remoteOpened;
      remote.sink.next('last words');
      await delay(50);
      (internalsOf(remote).socket as Socket).destroy();
      const seen = await browserSide;
      expect(seen.closed).to.deep.include({ code: 1006, wasClean: false });
      expect(seen.packets.map((p) => p.data)).to.deep.equal(['last words']);
      for (const end of [seen.packetsEnd, seen.ended]) {
        expect(end).to.deep.include({ name: 'WebSocketCloseError', code: 1006, closeError: true, wasClean: false });
      }
    });

    it('bufferedAmount$ rises under a burst while Node does not read, and falls back to 0', async function () {
      this.timeout(30_000);
      const remoteOpened = slow.next();
      const browserSide = inPage(
        async ({ url, count, size }) => {
          const { lib, h } = globalThis as unknown as PageGlobals;
          const { peer } = await h.open(`${url}/burst`, { writeMode: lib.WriteMode.Binary });
          const start = performance.now();
          const values: Array<[number, number]> = [];
          peer.bufferedAmount$.subscribe((value) => values.push([Math.round(performance.now() - start), value]));
          for (let i = 0; i < count; i++) {
            const chunk = new Uint8Array(size);
            new DataView(chunk.buffer).setUint32(0, i);
            peer.sink.next(chunk);
          }
          const afterBurst = peer.getCurrentOutboundBufferedAmount();
          await h.until(
            () => values.length > 2 && peer.getCurrentOutboundBufferedAmount() === 0,
            'bufferedAmount$ back at 0',
            20_000,
          );
          return { values, afterBurst, end: peer.getCurrentOutboundBufferedAmount() };
        },
        { url: slow.url, count: 64, size: 256 * KiB },
      );
      const remote = await remoteOpened;
      // Node reads nothing for a while: its queue fills (256 KiB), it stops reading, TCP pushes back.
      await delay(600);
      const got = await takePackets(remote, 64);
      expect(got.map((p) => (p.isString ? -1 : p.data.byteLength))).to.deep.equal(Array(64).fill(256 * KiB));
      expect(
        got.map((p) => new DataView((p.data as Uint8Array).buffer, (p.data as Uint8Array).byteOffset).getUint32(0)),
      ).to.deep.equal(Array.from({ length: 64 }, (_, i) => i));
      const { values, afterBurst, end } = await browserSide;
      const amounts = values.map(([, value]) => value);
      const max = Math.max(...amounts);
      const context = JSON.stringify(
        values.length > 40 ? [...values.slice(0, 20), '...', ...values.slice(-20)] : values,
      );
      expect(amounts[0], context).to.equal(0); // the current value, on subscribe
      expect(afterBurst, context).to.be.greaterThan(8 * MiB);
      expect(max, context).to.be.at.most(16 * MiB);
      // It held while Node did not read, and fell in steps, not at once.
      const at400 = values.filter(([ms]) => ms <= 400).at(-1)?.[1] ?? 0;
      expect(at400, context).to.be.greaterThan(MiB);
      const falling = amounts.slice(amounts.indexOf(max)).filter((value) => value > 0 && value < max);
      expect(falling.length, context).to.be.greaterThan(2);
      expect(amounts.at(-1), context).to.equal(0);
      expect(end).to.equal(0);
    });

    it('with backpressure(), the browser buffer stays under the high water mark plus one item', async function () {
      this.timeout(30_000);
      const count = 128;
      const size = 64 * KiB;
      const high = 256 * KiB;
      const remoteOpened = slow.next();
      const browserSide = inPage(
        async ({ url, count, size, high }) => {
          const g = globalThis as unknown as PageGlobals;
          const { lib, h, rxjs } = g;
          // The truth, besides what the peer reports: WebSocket.bufferedAmount after each send.
          const WebSocketClass = g.WebSocket as { prototype: { send(data: unknown): void } };
          const originalSend = WebSocketClass.prototype.send;
          let realMax = 0;
          let sends = 0;
          WebSocketClass.prototype.send = function (this: { bufferedAmount: number }, data: unknown) {
            originalSend.call(this, data);
            sends++;
            realMax = Math.max(realMax, this.bufferedAmount);
          };
          try {
            const { peer } = await h.open(`${url}/backpressure`, { writeMode: lib.WriteMode.Binary });
            let reportedMax = 0;
            peer.bufferedAmount$.subscribe((value) => (reportedMax = Math.max(reportedMax, value)));
            const chunks = Array.from({ length: count }, (_, i) => {
              const chunk = new Uint8Array(size);
              new DataView(chunk.buffer).setUint32(0, i);
              return chunk;
            });
            // from() pushes all of them at once; the operator holds what the buffer cannot take.
            await new Promise<void>((resolveSent, rejectSent) => {
              rxjs
                .from(chunks)
                .pipe(lib.backpressure(peer, { highWaterMark: high }))
                .subscribe({
                  next: (chunk) => peer.sink.next(chunk),
                  error: (error: unknown) => rejectSent(new Error(JSON.stringify(h.info(error)))),
                  complete: () => resolveSent(),
                });
            });
            await h.until(() => peer.getCurrentOutboundBufferedAmount() === 0, 'bufferedAmount$ back at 0', 20_000);
            return { reportedMax, realMax, sends };
          } finally {
            WebSocketClass.prototype.send = originalSend;
          }
        },
        { url: slow.url, count, size, high },
      );
      const remote = await remoteOpened;
      // Node reads nothing at first, so the browser's buffer reaches the mark.
      await delay(300);
      const got = await takePackets(remote, count);
      expect(
        got.map((p) => new DataView((p.data as Uint8Array).buffer, (p.data as Uint8Array).byteOffset).getUint32(0)),
      ).to.deep.equal(Array.from({ length: count }, (_, i) => i));
      const { reportedMax, realMax, sends } = await browserSide;
      expect(sends).to.equal(count);
      // The mark was reached (something was held back) and never passed by a whole item.
      expect(realMax).to.be.at.least(high);
      expect(realMax).to.be.lessThan(high + size);
      expect(reportedMax).to.be.lessThan(high + size);
    });

    it('sendAll() of a few MiB arrives byte-exact (sha-256 on both sides)', async function () {
      this.timeout(30_000);
      const total = 4 * MiB;
      const remoteOpened = node.next();
      const browserSide = inPage(
        async ({ url, total, chunk }) => {
          const g = globalThis as unknown as PageGlobals;
          const { lib, h } = g;
          const { peer } = await h.open(`${url}/send-all`);
          // 64 KiB random views on one buffer, with a text item every 16: hashed as sent (UTF-8).
          const random = new Uint8Array(total);
          for (let offset = 0; offset < total; offset += chunk)
            g.crypto.getRandomValues(random.subarray(offset, offset + chunk));
          const items: Array<string | Uint8Array> = [];
          for (let offset = 0, i = 0; offset < total; offset += chunk, i++) {
            if (i % 16 === 15) items.push(`text item ${i} ✓`);
            items.push(random.subarray(offset, offset + chunk));
          }
          const encoder = new TextEncoder();
          const parts = items.map((item) => (typeof item === 'string' ? encoder.encode(item) : item));
          const all = new Uint8Array(parts.reduce((sum, part) => sum + part.byteLength, 0));
          parts.reduce((offset, part) => (all.set(part, offset), offset + part.byteLength), 0);
          const sha256 = h.hex(await g.crypto.subtle.digest('SHA-256', all));
          function* source(): Generator<string | Uint8Array> {
            yield* items;
          }
          let maxBuffered = 0;
          let last: { packets: number; bytes: number; bufferedAmount: number } | undefined;
          await new Promise<void>((resolveSent, rejectSent) => {
            lib.sendAll(peer, source()).subscribe({
              next: (progress) => {
                last = progress;
                maxBuffered = Math.max(maxBuffered, progress.bufferedAmount);
              },
              error: (error: unknown) => rejectSent(new Error(JSON.stringify(h.info(error)))),
              complete: () => resolveSent(),
            });
          });
          return {
            sha256,
            bytes: all.byteLength,
            packets: items.length,
            texts: items.filter((i) => typeof i === 'string').length,
            last,
            maxBuffered,
          };
        },
        { url: node.url, total, chunk: 64 * KiB },
      );
      const remote = await remoteOpened;
      const hash = createHash('sha256');
      let bytes = 0;
      let texts = 0;
      let packets = 0;
      const expectedPackets = total / (64 * KiB) + total / (64 * KiB) / 16;
      await new Promise<void>((resolveAll, rejectAll) => {
        const subscription = remote.packets$.subscribe({
          next: (packet) => {
            const payload = packet.isString ? Buffer.from(packet.data) : packet.data;
            hash.update(payload);
            bytes += payload.byteLength;
            packets++;
            if (packet.isString) texts++;
            if (packets === expectedPackets) {
              subscription.unsubscribe();
              resolveAll();
            }
          },
          error: rejectAll,
          complete: () => rejectAll(new Error(`packets$ completed after ${packets} packets`)),
        });
      });
      const sent = await browserSide;
      expect(sent.packets).to.equal(expectedPackets);
      expect(sent.last).to.deep.equal({
        packets: sent.packets,
        bytes: sent.bytes,
        bufferedAmount: sent.last?.bufferedAmount,
      });
      expect({ packets, texts, bytes, sha256: hash.digest('hex') }).to.deep.equal({
        packets: sent.packets,
        texts: sent.texts,
        bytes: sent.bytes,
        sha256: sent.sha256,
      });
      // sendAll() pulls no further while 1 MiB (its default high water mark) waits.
      expect(sent.maxBuffered).to.be.lessThan(MiB + 64 * KiB);
    });

    it('keeps every inbound packet past maxQueuedPackets (a browser cannot stop reading); consumePackets() takes them in order', async () => {
      const remoteOpened = node.next();
      await inPage(
        async ({ url }) => {
          const g = globalThis as unknown as PageGlobals;
          g.t.opened = await g.h.open(`${url}/inbound`, { maxQueuedPackets: 4, maxQueuedBytes: 1024 });
        },
        { url: node.url },
      );
      const remote = await remoteOpened;
      for (let i = 0; i < 200; i++) remote.sink.next(`packet ${i} ${'x'.repeat(100)}`);
      const seen = await inPage(async () => {
        const { t, h, lib, rxjs } = globalThis as unknown as PageGlobals;
        const { peer } = t.opened as Opened;
        await h.until(() => peer.getAvailablePacketCount() === 200, 'all 200 packets waiting');
        const waiting = peer.getAvailablePacketCount();
        const handled = await rxjs.firstValueFrom(
          lib
            .consumePackets(peer, async (packet, index) => {
              await h.sleep(index % 20 === 0 ? 5 : 0);
              return `${index}:${(packet.data as string).split(' ')[1]}`;
            })
            .pipe(rxjs.take(200), rxjs.toArray()),
        );
        return { waiting, handled, left: peer.getAvailablePacketCount() };
      }, undefined);
      expect(seen.waiting).to.equal(200);
      expect(seen.handled).to.deep.equal(Array.from({ length: 200 }, (_, i) => `${i}:${i}`));
      expect(seen.left).to.equal(0);
    });

    it('reconnecting() reconnects after the Node side drops it, and sends what waited', async () => {
      const firstOpened = node.next();
      await inPage(
        async ({ url }) => {
          const { lib, h, subs, t } = globalThis as unknown as PageGlobals;
          const link = lib.reconnecting(`${url}/reconnecting`, { initialDelay: 50, maxDelay: 100 });
          const packets: SeenPacket[] = [];
          const statuses: string[] = [];
          subs.push(link.status$.subscribe((s) => statuses.push(s.state)));
          subs.push(link.packets$.subscribe((p) => packets.push(h.seen(p, false))));
          subs.push({ unsubscribe: () => link.close() } as Subscription);
          link.send('first');
          Object.assign(t, { link, packets, statuses });
        },
        { url: node.url },
      );
      const first = await firstOpened;
      expect((await takePackets(first, 1))[0]?.data).to.equal('first');
      const secondOpened = node.next();
      (internalsOf(first).socket as Socket).destroy();
      await inPage(async () => {
        const { t, h } = globalThis as unknown as PageGlobals;
        const statuses = t['statuses'] as string[];
        await h.until(() => statuses.includes('reconnecting'), 'reconnecting');
        // Written while not open: waits, then goes out on the next connection.
        (t['link'] as ReturnType<Lib['reconnecting']>).send('second');
      }, undefined);
      const second = await secondOpened;
      expect((await takePackets(second, 1))[0]?.data).to.equal('second');
      second.sink.next('hello again');
      const seen = await inPage(async () => {
        const { t, h } = globalThis as unknown as PageGlobals;
        const packets = t['packets'] as SeenPacket[];
        await h.until(() => packets.length === 1, 'the packet of the second connection');
        (t['link'] as ReturnType<Lib['reconnecting']>).close(4002, 'done');
        return { packets, statuses: t['statuses'] };
      }, undefined);
      expect(seen.packets.map((p) => p.data)).to.deep.equal(['hello again']);
      expect(seen.statuses).to.deep.equal([
        'idle',
        'connecting',
        'open',
        'reconnecting',
        'connecting',
        'open',
        'closed',
      ]);
      expect(await firstValueFrom(second.closed$)).to.deep.equal({ code: 4002, reason: 'done', wasClean: true });
    });

    it('reconnecting([down, up]) fails over to the second URL, in the browser too', async () => {
      // A port on 127.0.0.1 that nothing listens on (bound, then freed).
      const probe = createTcpServer();
      await new Promise<void>((done) => probe.listen(0, '127.0.0.1', done));
      const downPort = (probe.address() as { port: number }).port;
      await new Promise((done) => probe.close(done));
      const opened = node.next();
      const seen = await inPage(
        async ({ url, down }) => {
          const { lib, h, subs } = globalThis as unknown as PageGlobals;
          const link = lib.reconnecting([down, `${url}/failover`], { initialDelay: 20, maxDelay: 40, jitter: 0 });
          const statuses: string[] = [];
          subs.push(link.status$.subscribe((s) => statuses.push(s.state)));
          subs.push({ unsubscribe: () => link.close() } as Subscription);
          link.open();
          await h.until(() => statuses.includes('open'), 'open');
          const status = link.currentStatus;
          const reached = status.state === 'open' ? status.peer.handshake.url : '';
          link.close();
          return { statuses, reached };
        },
        { url: node.url, down: `ws://127.0.0.1:${downPort}/` },
      );
      expect(seen.statuses).to.deep.equal(['idle', 'connecting', 'reconnecting', 'connecting', 'open', 'closed']);
      expect(seen.reached).to.equal(`${node.url}/failover`);
      await opened;
    });

    it('roomClient() joins and publishes across server-side cuts, and a server that sends again: every message once, in order, every publish acknowledged once', async function () {
      this.timeout(30_000);
      // A serveRooms() server of its own, and the peers it serves, to cut them.
      const engine = memoryRooms();
      const peers: WebSocketPeer[] = [];
      // The room's messages as the server sends them (offset i + 1 at i), to send them again.
      const stored: string[] = [];
      let connections = 0;
      let storedAtOpen = 0;
      let replayed = 0;
      let serving: Subscription | undefined;
      const port = await new Promise<number>((resolvePort, reject) => {
        serving = listen({ host: '127.0.0.1', port: 0, protocols: [ROOMS_PROTOCOL], requireProtocol: true })
          .pipe(
            switchMap((server) => {
              resolvePort(server.port);
              return server.peers$.pipe(
                tap((peer) => {
                  peers.push(peer);
                  storedAtOpen = stored.length;
                  connections++;
                  // After a cut, a server may send again what the client has had already:
                  // docs/rooms.md has the client drop a message that is not after the last one it
                  // delivered. This one does, on each join that resumes from a position: it sends
                  // every message up to that position again, after its answer to the join.
                  peer.packets$.subscribe({
                    next: (packet) => {
                      const join = packet.isString ? (JSON.parse(packet.data) as Record<string, unknown>) : {};
                      const after = join['from'] as Position | undefined;
                      if (join['type'] !== 'join' || after === undefined) return;
                      queueMicrotask(() => {
                        for (const frame of stored.slice(0, after.offset)) {
                          if (!peer.isConnectedToHost()) return;
                          peer.sink.next(frame);
                          replayed++;
                        }
                      });
                    },
                    error: () => {},
                  });
                }),
              );
            }),
            serveRooms(engine),
          )
          .subscribe({ error: reject });
      });
      try {
        // From the room's head, exact: every message of the page counts.
        const from = await lastValueFrom(engine.head('chat'));
        // Mid-stream, once the connection open now has carried 20 more messages: every server
        // peer's socket reset. (A peer cut while it still had publishes to handle may store them
        // after the cut: counting from the open connection's start keeps each cut on a live one.)
        const cutsWanted = 6;
        let cuts = 0;
        const watching = engine.room$('chat', from).subscribe((m) => {
          stored.push(JSON.stringify({ type: 'message', room: m.room, position: m.position, text: m.data }));
          if (cuts === cutsWanted || peers.length === 0 || stored.length < storedAtOpen + 20) return;
          cuts++;
          for (const peer of peers.splice(0)) internalsOf(peer).socket.resetAndDestroy();
        });
        const seen = await inPage(
          async ({ url, from, cutsWanted }) => {
            const { lib, h, subs } = globalThis as unknown as PageGlobals;
            const link = lib.reconnecting(url, {
              protocols: lib.ROOMS_PROTOCOL,
              initialDelay: 10,
              maxDelay: 40,
              jitter: 0,
            });
            const statuses: string[] = [];
            subs.push(link.status$.subscribe((s) => statuses.push(s.state)));
            subs.push({ unsubscribe: () => link.close() } as Subscription);
            const rooms = lib.roomClient(link);
            const got: Array<[number, string]> = [];
            const errors: string[] = [];
            subs.push(
              rooms.join('chat', { from }).subscribe({
                next: (m) => got.push([m.position.offset, m.data as string]),
                error: (e: unknown) => errors.push(`join: ${JSON.stringify(h.info(e))}`),
              }),
            );
            // One publish every few ms, while the connection comes and goes (some are made while
            // it is down, some are sent again after a cut), until the server has cut it
            // `cutsWanted` times and 20 more went out on the last connection.
            const acks: number[][] = [];
            const reopened = (): number => statuses.filter((s) => s === 'open').length - 1;
            let afterLastCut = 0;
            for (let i = 0; i < 1000 && afterLastCut < 20; i++) {
              const mine: number[] = [];
              acks.push(mine);
              subs.push(
                rooms.publish('chat', `b${i}`).subscribe({
                  next: (position) => mine.push(position.offset),
                  error: (e: unknown) => errors.push(`publish ${i}: ${JSON.stringify(h.info(e))}`),
                }),
              );
              if (reopened() >= cutsWanted && link.currentStatus.state === 'open') afterLastCut++;
              await h.sleep(2);
            }
            const total = acks.length;
            await h.until(
              () => got.length >= total && acks.every((a) => a.length > 0),
              'every message and every acknowledgement',
              15_000,
            );
            // What would come twice comes now.
            await h.sleep(200);
            return { got, acks, errors, statuses };
          },
          { url: `ws://127.0.0.1:${port}`, from, cutsWanted },
        );
        watching.unsubscribe();
        expect(seen.errors).to.deep.equal([]);
        expect(cuts, 'cuts made').to.equal(cutsWanted);
        expect(connections, 'connections the server saw').to.be.at.least(cutsWanted + 1);
        expect(replayed, 'messages the server sent again').to.be.greaterThan(0);
        expect(seen.statuses.filter((s) => s === 'reconnecting').length).to.be.at.least(cutsWanted);
        expect(seen.statuses.filter((s) => s === 'open').length).to.be.at.least(cutsWanted + 1);
        const total = seen.acks.length;
        expect(total, 'messages published').to.be.at.least((cutsWanted + 1) * 20);
        // Every message once, in the order published (one publisher: the room's order is its order).
        expect(seen.got).to.deep.equal(Array.from({ length: total }, (_, i) => [i + 1, `b${i}`]));
        // Every publish acknowledged once, at its message's position; stored once each.
        expect(seen.acks).to.deep.equal(Array.from({ length: total }, (_, i) => [i + 1]));
        expect((await lastValueFrom(engine.head('chat'))).offset).to.equal(total);
      } finally {
        serving?.unsubscribe();
      }
    });

    it('close() takes 1000 and 3000-4999 only: others throw RangeError ERR_INVALID_CLOSE_CODE and the peer stays open', async () => {
      const seen = await inPage(
        async ({ url }) => {
          const { h, rxjs } = globalThis as unknown as PageGlobals;
          const { peer } = await h.open(`${url}/echo`);
          const refused = Object.fromEntries(
            [1001, 1002, 1003, 1007, 1011, 1014, 2999, 5000, 999].map((code) => [
              code,
              h.attempt(() => peer.close(code)),
            ]),
          );
          const longReason = h.attempt(() => peer.close(4000, 'é'.repeat(62)));
          const state = await rxjs.firstValueFrom(peer.state$);
          const connected = peer.isConnectedToHost();
          peer.sink.next('still open');
          const echoed = await h.take(peer, 1);
          return { refused, longReason, state, connected, echoed: echoed.map((p) => p.data) };
        },
        { url: node.url },
      );
      for (const [code, attempt] of Object.entries(seen.refused)) {
        expect(attempt, `close(${code})`).to.deep.include({
          threw: true,
          rangeError: true,
          code: 'ERR_INVALID_CLOSE_CODE',
        });
      }
      expect(seen.longReason).to.deep.include({ threw: true, rangeError: true, code: 'ERR_INVALID_CLOSE_REASON' });
      expect(seen).to.deep.include({ state: 'open', connected: true });
      expect(seen.echoed).to.deep.equal(['still open']);

      for (const code of [1000, 3000, 4999]) {
        const remoteOpened = node.next();
        const closed = inPage(
          async ({ url, code }) => {
            const { h, rxjs } = globalThis as unknown as PageGlobals;
            const { peer } = await h.open(`${url}/close-code`);
            peer.close(code, `code ${code}`);
            return rxjs.firstValueFrom(peer.closed$);
          },
          { url: node.url, code },
        );
        const remote = await remoteOpened;
        expect(await firstValueFrom(remote.closed$), `close(${code})`).to.deep.equal({
          code,
          reason: `code ${code}`,
          wasClean: true,
        });
        expect(await closed).to.deep.equal({ code, reason: `code ${code}`, wasClean: true });
      }
    });

    it('sink.error() closes with 4011', async () => {
      const remoteOpened = node.next();
      const browserSide = inPage(
        async ({ url }) => {
          const { h, rxjs } = globalThis as unknown as PageGlobals;
          const { peer, ended } = await h.open(`${url}/sink-error`);
          peer.sink.error(new Error('the app failed'));
          return { closed: await rxjs.firstValueFrom(peer.closed$), ended: await ended };
        },
        { url: node.url },
      );
      const remote = await remoteOpened;
      expect(await firstValueFrom(remote.closed$)).to.deep.include({ code: 4011, wasClean: true });
      const seen = await browserSide;
      expect(seen.closed).to.deep.include({ code: 4011, wasClean: true });
      expect(seen.ended).to.deep.include({ name: 'WebSocketCloseError', code: 4011, wasClean: true });
    });

    it('getConnectedHost(), getConnectedPort() and setNoDelay() throw ERR_NOT_SUPPORTED', async () => {
      const seen = await inPage(
        async ({ url }) => {
          const { h } = globalThis as unknown as PageGlobals;
          const { peer } = await h.open(`${url}/echo`);
          return {
            host: h.attempt(() => peer.getConnectedHost()),
            port: h.attempt(() => peer.getConnectedPort()),
            noDelayOn: h.attempt(() => peer.setNoDelay(true)),
            noDelayOff: h.attempt(() => peer.setNoDelay(false)),
            connected: peer.isConnectedToHost(),
          };
        },
        { url: node.url },
      );
      for (const name of ['host', 'port', 'noDelayOn', 'noDelayOff'] as const) {
        expect(seen[name], name).to.deep.include({
          threw: true,
          name: 'WebSocketPeerError',
          peerError: true,
          code: 'ERR_NOT_SUPPORTED',
        });
      }
      expect(seen.connected).to.equal(true);
    });

    it('connect() throws ERR_NOT_SUPPORTED synchronously for Node-only options; listen() throws it', async () => {
      const seen = await inPage(
        ({ url }) => {
          const { lib, h } = globalThis as unknown as PageGlobals;
          const nodeOnly: Record<string, object> = {
            headers: { headers: { a: 'b' } },
            maxPayload: { maxPayload: 1024 },
            maxFragments: { maxFragments: 65_536 },
            ca: { ca: '-----BEGIN CERTIFICATE-----' },
            servername: { servername: 'example.com' },
            noDelay: { noDelay: true },
            heartbeatInterval: { heartbeatInterval: 1000 },
          };
          return {
            options: Object.fromEntries(
              Object.entries(nodeOnly).map(([name, options]) => [
                name,
                h.attempt(() => lib.connect(`${url}/never`, options)),
              ]),
            ),
            listen: h.attempt(() => lib.listen({ port: 0 })),
          };
        },
        { url: node.url },
      );
      for (const [name, attempt] of Object.entries(seen.options)) {
        expect(attempt, name).to.deep.include({ threw: true, peerError: true, code: 'ERR_NOT_SUPPORTED' });
      }
      expect(seen.listen).to.deep.include({
        threw: true,
        name: 'WebSocketPeerError',
        peerError: true,
        code: 'ERR_NOT_SUPPORTED',
      });
    });

    it('connect() and reconnecting() throw ERR_INVALID_OPTION for an unknown key, naming the nearest known one', async () => {
      const seen = await inPage(
        ({ url }) => {
          const { lib, h } = globalThis as unknown as PageGlobals;
          const attempt = (options: object): Attempt => h.attempt(() => lib.connect(`${url}/never`, options));
          return {
            typo: attempt({ protocol: 'chat' }),
            nodeOnlyTypo: attempt({ heartbeatIntervall: 1000 }),
            farOff: attempt({ protocols: ['chat'], retries: 3 }),
            // A Node-only key with undefined as its value is set to nothing: it passes.
            undefinedValues: attempt({ protocols: undefined, heartbeatInterval: undefined, ca: undefined }),
            reconnecting: h.attempt(() => lib.reconnecting(`${url}/never`, { maxAttempt: 3 } as never)),
          };
        },
        { url: node.url },
      );
      const invalid = { threw: true, typeError: true, peerError: false, code: 'ERR_INVALID_OPTION' };
      expect(seen.typo).to.deep.include({
        ...invalid,
        message: "connect(): unknown option 'protocol' (did you mean 'protocols'?)",
      });
      expect(seen.nodeOnlyTypo).to.deep.include({
        ...invalid,
        message: "connect(): unknown option 'heartbeatIntervall' (did you mean 'heartbeatInterval'?)",
      });
      expect(seen.farOff).to.deep.include({ ...invalid, message: "connect(): unknown option 'retries'" });
      expect(seen.undefinedValues).to.deep.include({ threw: false });
      expect(seen.reconnecting).to.deep.include({
        ...invalid,
        message: "reconnecting(): unknown option 'maxAttempt' (did you mean 'maxAttempts'?)",
      });
    });

    it('connect() errors with ERR_CONNECT_FAILED when nobody listens or the server refuses, ERR_HANDSHAKE_TIMEOUT when nobody answers', async () => {
      // A server that answers 403 to the page's origin.
      const picky = await startNodeSide({ origins: ['https://elsewhere.example'] });
      const sockets = new Set<Socket>();
      const silent: TcpServer = createTcpServer((socket) => sockets.add(socket));
      await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
      const closedPort = await new Promise<number>((r) => {
        const probe = createTcpServer().listen(0, '127.0.0.1', () => {
          const { port } = probe.address() as { port: number };
          probe.close(() => r(port));
        });
      });
      try {
        const seen = await inPage(
          async ({ refused, forbidden, silentUrl }) => {
            const { h } = globalThis as unknown as PageGlobals;
            return {
              refused: await h.failure(refused),
              forbidden: await h.failure(forbidden),
              timeout: await h.failure(silentUrl, { handshakeTimeout: 300 }),
            };
          },
          {
            refused: `ws://127.0.0.1:${closedPort}/`,
            forbidden: `${picky.url}/`,
            silentUrl: `ws://127.0.0.1:${(silent.address() as { port: number }).port}/`,
          },
        );
        expect(seen.refused.error).to.deep.include({ peerError: true, code: 'ERR_CONNECT_FAILED' });
        expect(seen.forbidden.error).to.deep.include({ peerError: true, code: 'ERR_CONNECT_FAILED' });
        expect(seen.timeout.error).to.deep.include({ peerError: true, code: 'ERR_HANDSHAKE_TIMEOUT' });
        expect(seen.timeout.ms).to.be.within(250, 3000);
      } finally {
        for (const socket of sockets) socket.destroy();
        await new Promise((r) => silent.close(r));
        picky.stop();
      }
    });
  });
});
