import { execFile } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import ts from 'typescript';

// The built package as its users get it: resolved by name through its own exports map (a package
// can import itself by name once it has one), in fresh Node processes run from the repo root.
// Needs `npm run build` first; `npm test` does it.

const root = fileURLToPath(new URL('..', import.meta.url));
const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
  name: string;
  version: string;
  exports: Record<string, { import: { types: string; default: string }; require: { types: string; default: string } }>;
};

/** Runs `node ...args` in the repo root; resolves with its stdout, rejects with its stderr. */
function node(...args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, args, { cwd: root, timeout: 10_000 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`node ${args.join(' ')} failed: ${stderr || error.message}`));
      else resolve(stdout.trim());
    });
  });
}

const esm = (script: string): Promise<string> => node('--input-type=module', '-e', script);
const cjs = (script: string): Promise<string> => node('-e', script);

const RUNTIME_EXPORTS = [
  'CloseCode',
  'PeerServer',
  'WebSocketCloseError',
  'WebSocketPeer',
  'WebSocketPeerError',
  'WriteMode',
  'broadcast',
  'connect',
  'enableVariants',
  'listen',
];

describe('the built package', () => {
  before(function () {
    this.timeout(1000);
    for (const condition of ['import', 'require'] as const) {
      const entry = join(root, manifest.exports['.']?.[condition].default ?? '');
      if (!existsSync(entry)) throw new Error(`${entry} is missing: run \`npm run build\` first`);
    }
  });

  it('resolves by name through its exports map, ESM and CommonJS giving the same runtime exports', async function () {
    this.timeout(20_000);
    const [fromImport, fromRequire, importedFile, requiredFile] = await Promise.all([
      esm("import * as m from 'rx-websocket-peer'; console.log(JSON.stringify(Object.keys(m).sort()));"),
      cjs("const m = require('rx-websocket-peer'); console.log(JSON.stringify(Object.keys(m).sort()));"),
      esm("console.log(import.meta.resolve('rx-websocket-peer'));"),
      cjs("console.log(require.resolve('rx-websocket-peer'));"),
    ]);
    const imported = JSON.parse(fromImport) as string[];
    const required = JSON.parse(fromRequire) as string[];
    expect(imported).to.deep.equal(required);
    expect(imported).to.include.members(RUNTIME_EXPORTS);
    expect(importedFile).to.equal(new URL('../dist/esm/index.js', import.meta.url).href);
    expect(requiredFile).to.equal(join(root, 'dist/cjs/index.js'));
  });

  it('gives working values under both conditions, not just names', async function () {
    this.timeout(20_000);
    const probe = (m: string): string =>
      `console.log(JSON.stringify([${m}.WriteMode.Binary, ${m}.CloseCode.GoingAway, typeof ${m}.listen, ` +
      `new ${m}.WebSocketPeerError('ERR_PEER_CLOSED', 'x') instanceof Error]));`;
    const [fromImport, fromRequire] = await Promise.all([
      esm(`import * as m from 'rx-websocket-peer'; ${probe('m')}`),
      cjs(`const m = require('rx-websocket-peer'); ${probe('m')}`),
    ]);
    expect(JSON.parse(fromImport)).to.deep.equal([1, 1001, 'function', true]);
    expect(JSON.parse(fromRequire)).to.deep.equal([1, 1001, 'function', true]);
  });

  it('has errors that instanceof recognises across its ESM and CommonJS copies, and plain errors it does not', async function () {
    this.timeout(20_000);
    // One process that both imports and requires the package: two copies of every class.
    const out = await esm(`
      import { createRequire } from 'node:module';
      import { createServer } from 'node:net';
      const esm = await import('rx-websocket-peer');
      const cjs = createRequire(process.cwd() + '/')('rx-websocket-peer');
      const port = await new Promise((resolve) => {
        const server = createServer().listen(0, '127.0.0.1', () => {
          const { port } = server.address();
          server.close(() => resolve(port)); // closed: nothing listens there now
        });
      });
      const failed = (m) => new Promise((resolve) =>
        m.connect('ws://127.0.0.1:' + port).subscribe({ next: () => resolve(null), error: resolve }));
      const [peerEsm, peerCjs] = await Promise.all([failed(esm), failed(cjs)]);
      const info = { code: 1006, reason: '', wasClean: false };
      const [closeEsm, closeCjs] = [new esm.WebSocketCloseError(info), new cjs.WebSocketCloseError(info)];
      const thrown = (f) => { try { f(); } catch (e) { return e; } };
      const [variantEsm, variantCjs] = [esm, cjs].map((m) => thrown(() => m.decodeVariant(new Uint8Array([4, 0, 0, 0, 9]))));
      const [jsonEsm, jsonCjs] = [esm, cjs].map((m) => thrown(() => m.decodeJson('{"a":')));
      class Mine extends esm.WebSocketPeerError {}
      const mine = new Mine('ERR_CONNECT_FAILED', 'mine');
      const plain = Object.assign(new Error('plain'), { code: 'ERR_CONNECT_FAILED' });
      const classes = ['WebSocketPeerError', 'WebSocketCloseError', 'VariantError', 'JsonCodecError'];
      const is = (value) => classes.flatMap((name) => [value instanceof esm[name], value instanceof cjs[name]]);
      console.log(JSON.stringify({
        twoCopies: classes.every((name) => esm[name] !== cjs[name]),
        codes: [peerEsm.code, peerCjs.code, variantEsm.code, variantCjs.code, jsonEsm.code, jsonCjs.code],
        peerEsm: is(peerEsm), peerCjs: is(peerCjs), closeEsm: is(closeEsm), closeCjs: is(closeCjs),
        variantEsm: is(variantEsm), variantCjs: is(variantCjs), jsonEsm: is(jsonEsm), jsonCjs: is(jsonCjs),
        plain: is(plain), notErrors: [null, undefined, {}, 'WebSocketPeerError'].flatMap(is),
        errors: [peerEsm, peerCjs, closeEsm, closeCjs, variantEsm, jsonCjs, mine].map((e) => e instanceof Error),
        mine: [mine instanceof Mine, ...is(mine).slice(0, 2), peerEsm instanceof Mine, peerCjs instanceof Mine],
        keys: [peerEsm, closeCjs, variantEsm, jsonCjs].map((e) => Object.getOwnPropertySymbols(e).filter((s) => Object.keys(e).includes(s)).length),
      }));
    `);
    const none = [false, false, false, false, false, false, false, false];
    const only = (index: number): boolean[] => none.map((_, i) => i === 2 * index || i === 2 * index + 1);
    expect(JSON.parse(out)).to.deep.equal({
      twoCopies: true,
      codes: [
        'ERR_CONNECT_FAILED',
        'ERR_CONNECT_FAILED',
        'ERR_VARIANT_TRUNCATED',
        'ERR_VARIANT_TRUNCATED',
        'ERR_JSON_SYNTAX',
        'ERR_JSON_SYNTAX',
      ],
      peerEsm: only(0),
      peerCjs: only(0),
      closeEsm: only(1),
      closeCjs: only(1),
      variantEsm: only(2),
      variantCjs: only(2),
      jsonEsm: only(3),
      jsonCjs: only(3),
      plain: none,
      notErrors: [...none, ...none, ...none, ...none],
      errors: [true, true, true, true, true, true, true],
      // A subclass is its base in both copies, and only its own instances are it.
      mine: [true, true, true, false, false],
      keys: [0, 0, 0, 0],
    });
  });

  it('refuses deep imports with ERR_PACKAGE_PATH_NOT_EXPORTED', async function () {
    this.timeout(20_000);
    const requireCode = (path: string): string =>
      `try { require('${path}'); console.log('loaded'); } catch (e) { console.log(e.code); }`;
    const importCode = (path: string): string =>
      `import('${path}').then(() => console.log('loaded'), (e) => console.log(e.code));`;
    const outcomes = await Promise.all([
      cjs(requireCode('rx-websocket-peer/dist/esm/index.js')),
      cjs(requireCode('rx-websocket-peer/dist/cjs/index.js')),
      esm(importCode('rx-websocket-peer/src/index.js')),
      esm(importCode('rx-websocket-peer/dist/esm/index.js')),
    ]);
    expect(outcomes).to.deep.equal(Array(4).fill('ERR_PACKAGE_PATH_NOT_EXPORTED'));
  });

  it('exports its package.json', async function () {
    this.timeout(20_000);
    const out = await cjs(
      "const p = require('rx-websocket-peer/package.json'); console.log(JSON.stringify([p.name, p.version]));",
    );
    expect(JSON.parse(out)).to.deep.equal([manifest.name, manifest.version]);
  });

  it("has the exports map's types files on disk for both conditions", () => {
    const entry = manifest.exports['.'];
    expect(entry).to.not.equal(undefined);
    for (const condition of ['import', 'require'] as const) {
      const types = join(root, entry?.[condition].types ?? '');
      expect(existsSync(types), `${condition}: ${types}`).to.equal(true);
      expect(statSync(types).size, `${condition}: ${types}`).to.be.greaterThan(0);
      const declarations = readFileSync(types, 'utf8');
      for (const name of RUNTIME_EXPORTS) expect(declarations, `${condition} types`).to.include(name);
    }
  });
});

/** The repository's TypeScript, run on a project; resolves with its exit code and output. */
function tsc(project: string): Promise<{ code: number; out: string }> {
  const bin = join(root, 'node_modules/typescript/bin/tsc');
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [bin, '-p', project, '--listFiles'],
      { cwd: project, timeout: 60_000 },
      (error, stdout) => {
        resolve({ code: error ? Number(error.code ?? 1) : 0, out: stdout });
      },
    );
  });
}

/**
 * Type-checks `source` as an app's `app.ts` with `compilerOptions`, the package in its
 * node_modules (a symlink to this repository, so its exports map decides which declarations the
 * app gets) beside rxjs. Returns the errors and the files the program read.
 */
async function typeCheckApp(
  source: string,
  compilerOptions: Record<string, unknown>,
): Promise<{ code: number; errors: string[]; files: string[] }> {
  const app = mkdtempSync(join(tmpdir(), 'rxwp-types-'));
  try {
    mkdirSync(join(app, 'node_modules'));
    symlinkSync(root, join(app, 'node_modules/rx-websocket-peer'), 'dir');
    // The app's own rxjs (a peer dependency), as an app has it.
    symlinkSync(join(root, 'node_modules/rxjs'), join(app, 'node_modules/rxjs'), 'dir');
    const strict = { strict: true, skipLibCheck: false, noEmit: true, target: 'es2022', module: 'esnext' };
    const tsconfig = { compilerOptions: { ...strict, ...compilerOptions }, files: ['app.ts'] };
    writeFileSync(join(app, 'tsconfig.json'), JSON.stringify(tsconfig, null, 2));
    writeFileSync(join(app, 'app.ts'), source);
    const { code, out } = await tsc(app);
    const lines = out.split('\n').filter((line) => line.trim() !== '');
    return {
      code,
      errors: lines.filter((line) => /error TS\d+/.test(line)),
      files: lines.filter((line) => line.startsWith('/')),
    };
  } finally {
    rmSync(app, { recursive: true, force: true });
  }
}

describe("the built package's declarations", () => {
  it('of the browser entry compile without @types/node: types [], skipLibCheck false, lib es2022 and dom', async function () {
    this.timeout(60_000);
    // A browser or Angular app: no Node types anywhere, the package resolved with the browser condition.
    const app = `
      import {
        backoff, backpressure, CloseCode, connect, type ConnectOptions, consumePackets, decodeJsonPackets,
        decodeVariants, encodeJsonPackets, encodeVariants, listen, type ListenOptions, type PemInput,
        reconnecting, type ReconnectOptions, sendAll, type WebSocketPeer, WebSocketPeerError, WriteMode,
      } from 'rx-websocket-peer';
      import { of, retry, switchMap } from 'rxjs';

      const options: ConnectOptions = { protocols: ['chat'], handshakeTimeout: 5_000, writeMode: WriteMode.Text };
      connect('wss://example.com/feed', options)
        .pipe(
          retry({ count: 3, delay: backoff({ maxDelay: 5_000 }) }),
          switchMap((peer: WebSocketPeer) => peer.packets$),
          decodeJsonPackets({ maxDepth: 32 }),
        )
        .subscribe({
          next: (message) => console.log(message),
          error: (e: unknown) => console.log(e instanceof WebSocketPeerError ? e.code : e),
        });

      const reconnectOptions: ReconnectOptions = { maxDelay: 10_000, maxQueuedWrites: 100, protocols: 'chat' };
      const chat = reconnecting('wss://example.com/chat', reconnectOptions);
      chat.status$.subscribe((status) => console.log(status.state));
      chat.peer$
        .pipe(switchMap((peer) => of({ hp: 3 }, [1, 2]).pipe(encodeJsonPackets(), backpressure(peer))))
        .subscribe(chat.sink);
      chat.peer$.pipe(switchMap((peer) => sendAll(peer, ['text', new Uint8Array(4)], { highWaterMark: 1 << 20 }))).subscribe();
      chat.peer$.pipe(switchMap((peer) => consumePackets(peer, async (packet) => packet.data))).subscribe();
      chat.packets$.pipe(decodeVariants({ engine: 4 })).subscribe();
      of(1, 'two').pipe(encodeVariants()).subscribe(chat.sink);
      chat.close(CloseCode.Normal);

      // listen() throws in a browser, but its options type is exported there and must stand alone too.
      const pem: PemInput = [new Uint8Array([45]), '-----BEGIN CERTIFICATE-----'];
      const listenOptions: ListenOptions = { port: 8080, protocols: ['chat'], key: pem, cert: pem };
      export const serve = (): unknown => listen(listenOptions);
    `;
    const { code, errors, files } = await typeCheckApp(app, {
      lib: ['es2022', 'dom'],
      moduleResolution: 'bundler',
      customConditions: ['browser'],
      types: [],
      typeRoots: [],
    });
    expect(errors, 'type errors').to.deep.equal([]);
    expect(code).to.equal(0);
    expect(files).to.include(join(root, 'dist/esm/index.browser.d.ts'));
    expect(files).not.to.include(join(root, 'dist/esm/index.d.ts'));
    expect(
      files.filter((file) => file.includes('/@types/')),
      'declarations from @types',
    ).to.deep.equal([]);
  });

  it('of the two entries name the same values and types, all but the platform ones from the same declarations', function () {
    this.timeout(60_000);
    // index.ts and index.browser.ts each list the whole API (a test above finds every name in
    // the entry's own declarations): this keeps the two lists from drifting apart.
    const entries = ['dist/esm/index.d.ts', 'dist/esm/index.browser.d.ts'].map((file) => join(root, file));
    const program = ts.createProgram(entries, {
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
      lib: ['lib.es2022.d.ts', 'lib.dom.d.ts'],
      types: ['node'],
      noEmit: true,
    });
    const checker = program.getTypeChecker();
    /** Each name the entry exports, with the declaration it comes from (`file#name`). */
    const exportsOf = (file: string): Map<string, string> => {
      const source = program.getSourceFile(file);
      const module = source && checker.getSymbolAtLocation(source);
      if (!module) throw new Error(`${file}: not a module`);
      return new Map(
        checker.getExportsOfModule(module).map((symbol) => {
          const target = symbol.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(symbol) : symbol;
          const declaration = target.declarations?.[0];
          const from = declaration ? relative(root, declaration.getSourceFile().fileName) : '?';
          return [symbol.name, `${from}#${target.name}`];
        }),
      );
    };
    const [node, browser] = entries.map(exportsOf) as [Map<string, string>, Map<string, string>];
    expect([...browser.keys()].sort()).to.deep.equal([...node.keys()].sort());
    expect(node.size).to.be.greaterThan(50);
    const differing = [...node].filter(([name, from]) => browser.get(name) !== from).map(([name]) => name);
    expect(differing.sort()).to.deep.equal([
      'ConnectOptions',
      'ListenOptions',
      'PemInput',
      'ReconnectOptions',
      'connect',
      'listen',
      'reconnecting',
    ]);
  });

  it("of the Node entry keep Node's own types: Buffer in PemInput, http/https servers in ListenOptions", async function () {
    this.timeout(60_000);
    const app = `
      import { createServer, type Server } from 'node:http';
      import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
      import {
        connect, type ConnectOptions, listen, type ListenOptions, type PemInput, reconnecting, type ReconnectOptions,
      } from 'rx-websocket-peer';

      type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
      export const exact: [
        Equal<PemInput, string | Buffer | Array<string | Buffer>>,
        Equal<ListenOptions['server'], Server | HttpsServer | undefined>,
        Equal<ListenOptions['key'], PemInput | undefined>,
        Equal<ListenOptions['cert'], PemInput | undefined>,
        Equal<ConnectOptions['ca'], PemInput | undefined>,
        Equal<ReconnectOptions['ca'], PemInput | undefined>,
      ] = [true, true, true, true, true, true];

      listen({ server: createServer() }).subscribe();
      listen({ server: createHttpsServer() }).subscribe();
      connect('wss://127.0.0.1:1', { ca: Buffer.from('pem') }).subscribe();
      reconnecting('wss://127.0.0.1:1', { ca: [Buffer.from('pem'), 'pem'] }).close();
      // ReconnectOptions is ConnectOptions and more.
      export const shared: ConnectOptions = { maxDelay: 5 } as ReconnectOptions;
    `;
    const { code, errors, files } = await typeCheckApp(app, {
      lib: ['es2022'],
      moduleResolution: 'bundler',
      types: ['node'],
      typeRoots: [join(root, 'node_modules/@types')],
    });
    expect(errors, 'type errors').to.deep.equal([]);
    expect(code).to.equal(0);
    expect(files).to.include(join(root, 'dist/esm/index.d.ts'));
  });
});
