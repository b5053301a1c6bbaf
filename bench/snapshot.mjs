// A private copy of the package as just built, for a benchmark's child processes: dist/ and
// package.json installed by name in a temporary node_modules, with the child scripts beside it,
// so that `import ... from 'rx-websocket-peer'` in a child resolves there through the package's
// exports map. Others rebuild dist/ while a benchmark runs (the build starts by deleting it), so
// without a copy a child could find no dist/ or a half-written one, and two cases could measure two
// different builds. Used by bench/throughput.mjs, bench/memory.mjs and bench/rooms.mjs.
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const repo = dirname(here);

/**
 * @param {object} options
 * @param {string} [options.dist] the build to copy (default: the repo's dist/)
 * @param {string[]} options.dependencies the repo's node_modules to link beside it (one RxJS)
 * @param {string[]} options.dirs the folders of bench/ whose .mjs files the children are
 * @param {string[]} options.exports two exports the copy must have (a check that it is whole)
 * @param {string[]} [options.files] more files of the repo to copy, at the same paths
 * @returns {{ root: string, dist: string, builtAt: Date }}
 */
export function snapshot({ dist = join(repo, 'dist'), dependencies, dirs, exports, files = [] }) {
  const root = mkdtempSync(join(tmpdir(), 'rx-websocket-peer-bench-'));
  const pkg = join(root, 'node_modules', 'rx-websocket-peer');
  mkdirSync(join(root, 'node_modules'));
  for (const dependency of dependencies.filter((name) => existsSync(join(repo, 'node_modules', name)))) {
    symlinkSync(join(repo, 'node_modules', dependency), join(root, 'node_modules', dependency), 'dir');
  }
  // dist/cjs/package.json is the build's last file: present means the build had finished.
  const complete = (dir) => existsSync(join(dir, 'esm', 'index.js')) && existsSync(join(dir, 'cjs', 'package.json'));
  const probe = `const m = await import('rx-websocket-peer'); if (${exports
    .map((name) => `typeof m.${name} !== 'function'`)
    .join(' || ')}) process.exit(2);`;
  for (let attempt = 1; ; attempt++) {
    rmSync(pkg, { recursive: true, force: true });
    mkdirSync(pkg, { recursive: true });
    try {
      if (!complete(dist)) throw new Error('dist/ is missing or being rebuilt');
      cpSync(dist, join(pkg, 'dist'), { recursive: true });
      cpSync(join(repo, 'package.json'), join(pkg, 'package.json'));
      if (!complete(join(pkg, 'dist'))) throw new Error('dist/ changed while being copied');
      execFileSync(process.execPath, ['--input-type=module', '-e', probe], { cwd: root, stdio: 'ignore' });
      break;
    } catch (error) {
      if (attempt === 20) {
        rmSync(root, { recursive: true, force: true });
        throw new Error(`could not take a complete copy of dist/: ${error.message}`);
      }
      execFileSync('sleep', ['0.5']);
    }
  }
  for (const dir of dirs) {
    mkdirSync(join(root, 'bench', dir), { recursive: true });
    for (const file of readdirSync(join(here, dir))) {
      if (file.endsWith('.mjs')) cpSync(join(here, dir, file), join(root, 'bench', dir, file));
    }
  }
  for (const file of files) {
    mkdirSync(dirname(join(root, file)), { recursive: true });
    cpSync(join(repo, file), join(root, file));
  }
  return { root, dist, builtAt: statSync(join(dist, 'esm', 'index.js')).mtime };
}
