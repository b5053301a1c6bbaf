import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';

// The package as `npm publish` would send it: `npm pack` into a temporary directory, the tarball
// listed and unpacked, and what a user installs checked file by file. Packs the dist/ that
// `npm run build` made (`npm test` does it first) with --ignore-scripts, so that the spec does not
// rebuild it under the other specs: `prepack` runs the same build when publishing.

const root = fileURLToPath(new URL('..', import.meta.url));
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

/** Runs a command; resolves with its stdout, rejects with its stderr. */
function run(command: string, args: string[], cwd: string): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(command, args, { cwd, timeout: 60_000, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${command} ${args.join(' ')} failed: ${stderr || error.message}`));
      else resolve(stdout);
    });
  });
}

interface Packed {
  /** Paths in the tarball, relative to the package (`package/` taken off). */
  files: string[];
  /** Where the tarball was unpacked: the package's own directory. */
  dir: string;
}

describe('the packed package (npm pack)', () => {
  let temp: string;
  let packed: Packed;

  before(async function () {
    this.timeout(60_000);
    if (!existsSync(join(root, 'dist/esm/index.js'))) throw new Error('dist/ is missing: run `npm run build` first');
    temp = mkdtempSync(join(tmpdir(), 'rxwp-pack-'));
    const out = await run(npm, ['pack', '--ignore-scripts', '--json', '--pack-destination', temp], root);
    const [report] = JSON.parse(out) as { filename: string; files: { path: string }[] }[];
    if (report === undefined) throw new Error(`npm pack reported nothing: ${out}`);
    await run('tar', ['-xzf', join(temp, report.filename), '-C', temp], root);
    packed = { files: report.files.map((file) => file.path).sort(), dir: join(temp, 'package') };
  });

  after(() => {
    if (temp) rmSync(temp, { recursive: true, force: true });
  });

  const manifest = (): { scripts?: Record<string, string>; files?: string[] } =>
    JSON.parse(readFileSync(join(packed.dir, 'package.json'), 'utf8')) as {
      scripts?: Record<string, string>;
      files?: string[];
    };

  it('has no install script in its package.json, so installing it runs nothing', () => {
    const scripts = manifest().scripts ?? {};
    for (const name of ['preinstall', 'install', 'postinstall', 'prepare']) {
      expect(scripts, `scripts.${name}`).not.to.have.property(name);
    }
    // What builds dist/ instead, on npm pack and npm publish (and for a git dependency).
    expect(scripts).to.have.property('prepack', 'npm run build');
  });

  it('ships an MIT LICENSE, as its package.json says, and lists it in files', () => {
    expect(packed.files).to.include('LICENSE');
    expect(manifest().files).to.include('LICENSE');
    const license = readFileSync(join(packed.dir, 'LICENSE'), 'utf8');
    expect(license).to.match(/^MIT License\n/);
    expect(license).to.include('Copyright (c) 2026 rx-websocket-peer contributors');
    expect(
      (JSON.parse(readFileSync(join(packed.dir, 'package.json'), 'utf8')) as { license: string }).license,
    ).to.equal('MIT');
  });

  it('has source maps that carry their sources, so that src/ is not needed', () => {
    const maps = packed.files.filter((file) => file.endsWith('.map'));
    expect(packed.files.filter((file) => file.startsWith('src/'))).to.deep.equal([]);
    for (const file of maps) {
      const map = JSON.parse(readFileSync(join(packed.dir, file), 'utf8')) as {
        sources: string[];
        sourcesContent?: (string | null)[];
      };
      expect(map.sourcesContent?.length, `${file}: sourcesContent`).to.equal(map.sources.length);
      map.sources.forEach((source, i) => {
        // The very text of the file the map points at, in the repository (not in the tarball).
        const original = readFileSync(join(root, dirname(file), source), 'utf8');
        expect(map.sourcesContent?.[i] === original, `${file}: the content of ${source}`).to.equal(true);
      });
    }
    // Every .js has its map (or none has one); a map would be worthless to a user otherwise.
    const scripts = packed.files.filter((file) => file.endsWith('.js') && file !== 'package.json');
    if (maps.length > 0) expect(maps.filter((file) => file.endsWith('.js.map')).length).to.equal(scripts.length);
  });
});
