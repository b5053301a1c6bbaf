import { execFile } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';

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
