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
