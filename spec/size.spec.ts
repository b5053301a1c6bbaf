import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { build } from 'esbuild';
import { catchError, EMPTY, mergeMap, tap } from 'rxjs';
import { startServer, stopAll } from './helpers.js';

// Pay for what you use: apps that import the BUILT package (dist/, by name through its exports
// map, under the browser condition) bundled with esbuild as a browser app's bundler would,
// minified. The Godot codec is in a bundle only when the app uses it, and putVar()/getVar() work
// exactly when it is: each bundle also runs, in Node with its WHATWG WebSocket, against a
// listen() server. Needs `npm run build` first; `npm test` does it.

const root = fileURLToPath(new URL('..', import.meta.url));
/** The files of the Godot codec, as the bundles' metafile names them. */
const CODEC_FILES = ['dist/esm/codec/variant.js', 'dist/esm/codec/godotTypes.js', 'dist/esm/codec/VariantError.js'];
/** Strings that minifying leaves: the codec's error codes and its error class's name. */
const CODEC_TRACES = ['ERR_VARIANT_', 'VariantError'];

interface AppBundle {
  code: string;
  /** The package's files that put bytes in the output. */
  files: string[];
}

/** Bundles `source` (an app's main module, in the repository root) for the browser, minified. */
async function bundleApp(source: string, { rxjs }: { rxjs: 'external' | 'bundled' }): Promise<AppBundle> {
  const result = await build({
    absWorkingDir: root,
    stdin: { contents: source, resolveDir: root, sourcefile: 'app.js', loader: 'js' },
    bundle: true,
    platform: 'browser',
    conditions: ['browser'],
    format: 'esm',
    target: 'es2022',
    minify: true,
    external: rxjs === 'external' ? ['rxjs'] : [],
    write: false,
    metafile: true,
    logLevel: 'silent',
  });
  const [output] = Object.values(result.metafile.outputs);
  const files = Object.entries(output?.inputs ?? {})
    .filter(([file, { bytesInOutput }]) => bytesInOutput > 0 && file.startsWith('dist/'))
    .map(([file]) => file);
  return { code: result.outputFiles[0]?.text ?? '', files };
}

/**
 * An app that connects to the URL in \`RXWP_URL\`, then tries getVar() on a packet that
 * holds a Godot value (the engine's encoding of the int 42, sent back by the echo server) and
 * putVar() of another, and prints what happened as JSON.
 */
const app = (imports: string, use = '', { commonJs = false } = {}): string => `
  ${
    commonJs
      ? "const { connect } = (await import('node:module')).createRequire(process.cwd() + '/')('rx-websocket-peer');"
      : `import { connect, ${imports} } from 'rx-websocket-peer';`
  }
  ${use}
  const attempt = (f) => { try { return { value: f() ?? null }; } catch (e) { return { name: e.name, code: e.code, message: e.message }; } };
  const peer = await new Promise((resolve) => connect(process.env.RXWP_URL).subscribe(resolve)); // kept subscribed: open
  const arrived = async (count) => { while (peer.getAvailablePacketCount() < count) await new Promise((r) => setTimeout(r, 5)); };
  peer.setWriteMode(1);
  peer.sink.next(new Uint8Array([2, 0, 0, 0, 42, 0, 0, 0]));
  await arrived(1);
  const getVar = attempt(() => peer.getVar());
  const waiting = peer.getAvailablePacketCount();
  const putVar = attempt(() => peer.putVar([1, 'two']));
  let echo = null;
  if (!putVar.name) { await arrived(waiting + 1); while (peer.getAvailablePacketCount() > 1) peer.getPacket(); echo = attempt(() => peer.getVar()); }
  peer.close();
  console.log(JSON.stringify({ getVar, waiting, putVar, echo }));
`;

interface AppRun {
  getVar: { value?: unknown; name?: string; code?: string; message?: string };
  waiting: number;
  putVar: { value?: unknown; name?: string; code?: string; message?: string };
  echo: { value?: unknown } | null;
}

/**
 * Runs an app against an echo server: a self-contained bundle (in Node, with its WHATWG
 * WebSocket), or with `unbundled`, the app's source as is, in the repository root.
 */
async function run(code: string, { unbundled = false } = {}): Promise<AppRun> {
  const server = await startServer();
  server.server.peers$
    .pipe(
      mergeMap((peer) =>
        peer.packets$.pipe(
          tap((packet) => peer.sink.next(packet)),
          catchError(() => EMPTY),
        ),
      ),
    )
    .subscribe();
  const dir = mkdtempSync(join(tmpdir(), 'rxwp-size-'));
  try {
    const file = join(dir, 'app.mjs');
    writeFileSync(file, code);
    // Node 20 has WebSocket behind a flag; later versions have it on.
    const flags = process.allowedNodeEnvironmentFlags.has('--experimental-websocket')
      ? ['--experimental-websocket']
      : [];
    const args = unbundled ? ['--input-type=module', '-e', code] : [...flags, file];
    const stdout = await new Promise<string>((resolve, reject) => {
      const options = { cwd: root, timeout: 10_000, env: { ...process.env, RXWP_URL: server.url } };
      execFile(process.execPath, args, options, (error, out, err) =>
        // A minified bundle's stack shows its whole line: keep the message, not the code.
        error
          ? reject(
              new Error(
                `app failed:\n${err
                  .split('\n')
                  .filter((line) => line.length < 300)
                  .join('\n')}`,
              ),
            )
          : resolve(out),
      );
    });
    return JSON.parse(stdout) as AppRun;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const WORKS: AppRun = { getVar: { value: 42 }, waiting: 0, putVar: { value: null }, echo: { value: [1, 'two'] } };

describe('what a browser bundle pays for', () => {
  before(function () {
    const entry = join(root, 'dist/esm/index.browser.js');
    if (!existsSync(entry)) throw new Error(`${entry} is missing: run \`npm run build\` first`);
  });
  afterEach(stopAll);

  it('a connect()-only app has none of the Godot codec in its bundle', async function () {
    this.timeout(20_000);
    const { code, files } = await bundleApp(app(''), { rxjs: 'external' });
    expect(files).to.include('dist/esm/observables/connect.browser.js');
    expect(files).to.include('dist/esm/peer/WebSocketPeer.js');
    expect(files.filter((file) => CODEC_FILES.includes(file))).to.deep.equal([]);
    for (const trace of CODEC_TRACES) expect(code, trace).not.to.include(trace);
  });

  for (const [imports, use] of [
    ['decodeVariants', 'export { decodeVariants };'],
    ['encodeVariants', 'export { encodeVariants };'],
    ['encodeVariant', 'export { encodeVariant };'],
    ['decodeVariant', 'export { decodeVariant };'],
    ['enableVariants', 'enableVariants();'],
  ] as const) {
    it(`an app that uses ${imports}() has the codec in its bundle`, async function () {
      this.timeout(20_000);
      const { code, files } = await bundleApp(app(imports, use), { rxjs: 'external' });
      expect(files).to.include.members(['dist/esm/codec/variant.js', 'dist/esm/codec/VariantError.js']);
      for (const trace of CODEC_TRACES) expect(code, trace).to.include(trace);
    });
  }

  it('in a connect()-only bundle, putVar() and getVar() throw ERR_NOT_SUPPORTED naming enableVariants(), and take nothing', async function () {
    this.timeout(20_000);
    const { code } = await bundleApp(app(''), { rxjs: 'bundled' });
    const result = await run(code);
    expect(result.getVar).to.include({ name: 'WebSocketPeerError', code: 'ERR_NOT_SUPPORTED' });
    expect(result.getVar.message).to.include('enableVariants()');
    expect(result.waiting, 'the packet getVar() refused still waits').to.equal(1);
    expect(result.putVar).to.include({ name: 'WebSocketPeerError', code: 'ERR_NOT_SUPPORTED' });
    expect(result.putVar.message).to.include('enableVariants()');
  });

  // "sideEffects": false lets a bundler drop a module none of whose exports are used; a module
  // that is in keeps its top-level statements, so the codec's registration comes with it.
  for (const [imports, use] of [
    ['decodeVariants', 'export { decodeVariants };'],
    ['enableVariants', 'enableVariants();'],
  ] as const) {
    it(`in a bundle that uses ${imports}(), putVar() and getVar() work`, async function () {
      this.timeout(20_000);
      const { code } = await bundleApp(app(imports, use), { rxjs: 'bundled' });
      expect(await run(code)).to.deep.equal(WORKS);
    });
  }

  it('in Node, putVar() and getVar() work in a connect()-only app, ESM and CommonJS', async function () {
    this.timeout(20_000);
    expect(await run(app(''), { unbundled: true })).to.deep.equal(WORKS);
    expect(await run(app('', '', { commonJs: true }), { unbundled: true })).to.deep.equal(WORKS);
  });
});
