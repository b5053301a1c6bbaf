// The first step of `npm test`: everything the suite needs besides this repository's code, so that
// `npm test` on a bare machine (Node and npm, nothing else) gives a green run.
//
//   1. the root's node_modules (npm ci) when there is none;
//   2. the Debian packages of scripts/testTools.mjs: when one is missing, installed with apt-get
//      when we run as root, else we stop at once with the exact command to run;
//   3. the Angular example's node_modules (npm ci in examples/angular) when missing or older than
//      its lockfile.
//
// When everything is there it only looks (a few stat calls and one python3 import), so a second
// run installs nothing and costs no time.
import { spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { installCommand, present, TEST_TOOLS, toolsLeftOut } from './testTools.mjs';

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
  const leftOut = toolsLeftOut();
  const missing = () => TEST_TOOLS.filter((tool) => !leftOut.has(tool.name) && !present(tool)).map((tool) => tool.name);
  const needed = missing();
  if (needed.length === 0) return;
  const why = needed.map((name) => `${name} (${TEST_TOOLS.find((tool) => tool.name === name).usedBy})`);
  const aptGet = ['/usr/bin/apt-get', '/bin/apt-get'].find((path) => existsSync(path));
  if (!aptGet) {
    stop(
      `the suite needs ${needed.join(', ')}, which it installs with Debian's apt-get, and this machine has none: install them, or set RXWP_TEST_WITHOUT=${needed.join(',')}`,
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

/** The Angular example (examples/angular) is a project of its own, with its own lockfile. */
export function angularExample() {
  const example = join(root, 'examples', 'angular');
  if (installed(example)) return;
  console.log('npm test: installing the Angular example (npm ci in examples/angular)');
  run(npm, ['ci', '--no-audit', '--no-fund'], { cwd: example });
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  try {
    rootModules();
    debianPackages();
    angularExample();
  } catch (error) {
    stop(error instanceof Error ? error.message : String(error));
  }
}
