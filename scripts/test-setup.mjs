// The first step of `npm test`: everything the suite needs besides this repository's code, so that
// `npm test` on a bare machine (Node and npm, nothing else) gives a green run.
//
//   1. the root's node_modules (npm ci) when there is none;
//   2. the Debian packages of scripts/testTools.mjs: when one is missing, installed with apt-get
//      when we run as root, else we stop at once with the exact command to run;
//   3. the Angular example (examples/angular), which gets the library as a user's app does, from
//      the tarball `npm pack` makes: the library is built if its sources changed since dist/,
//      packed into examples/angular/vendor/rx-websocket-peer.tgz, and installed there when that
//      tarball changed; the example's other dependencies (Angular) with npm ci when its
//      node_modules is missing or older than its lockfile.
//
// When everything is there it only looks (stat calls, one python3 import, one `npm pack`), so a
// second run installs nothing and costs about two seconds.
//   node scripts/test-setup.mjs           all three
//   node scripts/test-setup.mjs angular   the Angular example alone
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { installCommand, present, TEST_TOOLS } from './testTools.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

/** Stops `npm test` with one line that says what to do. */
function stop(line) {
  console.error(`npm test: ${line}`);
  process.exit(1);
}

/** Runs a command with its output shown; stops if it fails. */
function run(command, args, options = {}) {
  const started = Date.now();
  const result = spawnSync(command, args, { stdio: 'inherit', ...options });
  if (result.status !== 0) {
    stop(`\`${[command, ...args].join(' ')}\` failed (${result.error?.message ?? `exit ${result.status}`})`);
  }
  return Date.now() - started;
}

/** Whether `dir` has a node_modules that npm installed from its lockfile, and not before it changed. */
function installed(dir) {
  const marker = join(dir, 'node_modules', '.package-lock.json');
  return existsSync(marker) && statSync(marker).mtimeMs >= statSync(join(dir, 'package-lock.json')).mtimeMs;
}

function rootModules() {
  // Only absence, not age: `npm install` rewrites package-lock.json after node_modules.
  if (existsSync(join(root, 'node_modules', '.package-lock.json'))) return;
  console.log('npm test: installing the repository (npm ci)');
  run(npm, ['ci', '--no-audit', '--no-fund'], { cwd: root });
}

function debianPackages() {
  const missing = () => TEST_TOOLS.filter((tool) => !present(tool)).map((tool) => tool.name);
  const needed = missing();
  if (needed.length === 0) return;
  const why = needed.map((name) => `${name} (${TEST_TOOLS.find((tool) => tool.name === name).usedBy})`);
  const aptGet = ['/usr/bin/apt-get', '/bin/apt-get'].find((path) => existsSync(path));
  if (!aptGet) {
    stop(
      `the suite needs ${needed.join(', ')}, which it installs with Debian's apt-get, and this machine has none: install them`,
    );
  }
  if (process.getuid?.() !== 0) {
    const sudo = existsSync('/usr/bin/sudo') ? 'sudo ' : '';
    stop(`missing Debian packages ${needed.join(' ')}; run \`${installCommand(needed, sudo)}\` (or npm test as root)`);
  }
  console.log(`npm test: installing Debian packages the suite needs:\n  ${why.join('\n  ')}`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const ms =
    run(aptGet, ['update', '-qq'], { env }) +
    run(aptGet, ['install', '-y', '-qq', '--no-install-recommends', ...needed], { env });
  const still = missing();
  if (still.length > 0) stop(`apt-get installed ${needed.join(' ')}, yet ${still.join(', ')} still cannot be used`);
  console.log(`npm test: installed ${needed.join(' ')} (${(ms / 1000).toFixed(1)} s)`);
}

/** The newest modification time of `path` and, for a directory, of everything in it (0 if absent). */
function newest(path) {
  if (!existsSync(path)) return 0;
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  return Math.max(stat.mtimeMs, ...readdirSync(path).map((name) => newest(join(path, name))));
}

/** The oldest modification time of the files under `path` (0 if there is none). */
function oldestFile(path) {
  if (!existsSync(path)) return 0;
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  const times = readdirSync(path).map((name) => oldestFile(join(path, name)));
  return times.length === 0 || times.includes(0) ? 0 : Math.min(...times);
}

/**
 * Builds the library unless dist/ is newer than everything it is built from, then packs it into
 * `tarball` (rewritten only if its bytes changed). Returns the tarball's SHA-256.
 */
function packLibrary(tarball) {
  const sources = [
    'src',
    'package.json',
    'scripts/build.mjs',
    ...readdirSync(root).filter((name) => /^tsconfig.*\.json$/.test(name)),
  ];
  if (oldestFile(join(root, 'dist')) <= Math.max(...sources.map((source) => newest(join(root, source))))) {
    console.log('npm test: building the library for the Angular example (npm run build)');
    run(npm, ['run', 'build', '--silent'], { cwd: root });
  }
  // Built just now or already: no lifecycle script, whether the package builds in "prepare" or "prepack".
  const vendor = dirname(tarball);
  mkdirSync(vendor, { recursive: true });
  const packed = spawnSync(npm, ['pack', '--ignore-scripts', '--json', '--pack-destination', vendor], {
    cwd: root,
    encoding: 'utf8',
  });
  if (packed.status !== 0) {
    process.stderr.write(packed.stderr ?? '');
    stop(`\`npm pack\` of the library failed (${packed.error?.message ?? `exit ${packed.status}`})`);
  }
  const made = join(vendor, JSON.parse(packed.stdout)[0].filename);
  const bytes = readFileSync(made);
  if (existsSync(tarball) && readFileSync(tarball).equals(bytes)) {
    if (made !== tarball) rmSync(made);
  } else {
    renameSync(made, tarball);
  }
  return createHash('sha256').update(bytes).digest('hex');
}

/**
 * The Angular example (examples/angular) is a project of its own, with its own lockfile, that
 * depends on `file:vendor/rx-websocket-peer.tgz`: the library packed from this repository.
 */
export function angularExample() {
  const example = join(root, 'examples', 'angular');
  const tarball = join(example, 'vendor', 'rx-websocket-peer.tgz');
  // Beside the installed packages, so that it goes when they go: the tarball they came from.
  const marker = join(example, 'node_modules', '.rx-websocket-peer.tgz.sha256');
  const lock = JSON.parse(readFileSync(join(example, 'package-lock.json'), 'utf8'));
  if (lock.packages?.['node_modules/rx-websocket-peer']?.integrity !== undefined) {
    // With it, npm ci installs a cached older build, or fails with EINTEGRITY once the library changed.
    stop(
      'examples/angular/package-lock.json holds an integrity for rx-websocket-peer, whose tarball changes with every build: delete that line',
    );
  }
  const sha256 = packLibrary(tarball);
  if (!installed(example)) {
    console.log('npm test: installing the Angular example (npm ci in examples/angular)');
    run(npm, ['ci', '--no-audit', '--no-fund'], { cwd: example });
  } else if (!existsSync(marker) || readFileSync(marker, 'utf8').trim() !== sha256) {
    console.log('npm test: installing the library, changed, into the Angular example');
    // --no-save: the lockfile names the tarball, not its contents (see the check above).
    const ms = run(npm, ['install', '--no-save', '--no-audit', '--no-fund', './vendor/rx-websocket-peer.tgz'], {
      cwd: example,
    });
    console.log(`npm test: installed the library into the Angular example (${(ms / 1000).toFixed(1)} s)`);
  } else {
    return;
  }
  writeFileSync(marker, `${sha256}\n`);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  try {
    if (process.argv[2] !== 'angular') {
      rootModules();
      debianPackages();
    }
    angularExample();
  } catch (error) {
    stop(error instanceof Error ? error.message : String(error));
  }
}
