// The Angular example's tests (examples/angular): installs the example if needed, builds the
// library if needed, builds the app (`ng build`, for the browser spec), typechecks the specs, then
// runs its mocha specs with the repository's mocha and tsx. Extra arguments go to mocha.
//   npm run test:angular
//   npm run test:angular -- --grep Chromium
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { angularExample } from './test-setup.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const example = join(root, 'examples', 'angular');
const require = createRequire(join(root, 'package.json'));
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

/** Runs a command; its output only if it fails (or always, with `show`). Exits on failure. */
function run(what, command, args, { cwd = root, show = false } = {}) {
  const started = Date.now();
  const result = spawnSync(command, args, {
    cwd,
    stdio: show ? 'inherit' : 'pipe',
    encoding: 'utf8',
    env: { ...process.env, NG_CLI_ANALYTICS: 'false' },
  });
  if (result.status !== 0) {
    if (!show) process.stderr.write(`${result.stdout ?? ''}${result.stderr ?? ''}`);
    console.error(`examples/angular: ${what} failed (${result.error?.message ?? `exit ${result.status}`})`);
    process.exit(result.status || 1);
  }
  console.log(`examples/angular: ${what} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
}

// A fresh clone has no examples/angular/node_modules (the root `npm install` does not install
// it); a changed lockfile needs a new install too. `npm test` has done this already.
angularExample();
// The example uses the library through its package exports: dist/, for Node and for the browser.
if (!existsSync(join(root, 'dist/esm/index.js')) || !existsSync(join(root, 'dist/esm/index.browser.js'))) {
  run('npm run build (the library)', npm, ['run', 'build', '--silent']);
}
run('ng build', process.execPath, [join(example, 'node_modules/@angular/cli/bin/ng.js'), 'build', '--stats-json'], {
  cwd: example,
});
const tsc = join(example, 'node_modules/typescript/bin/tsc');
run('tsc (app, specs, server.mjs)', process.execPath, [tsc, '-p', 'tsconfig.json'], { cwd: example });
// tsx and mocha are the repository's; tsx reads examples/angular/tsconfig.json (decorators).
const mocha = require.resolve('mocha/bin/mocha.js');
const result = spawnSync(process.execPath, [mocha, ...process.argv.slice(2)], { cwd: example, stdio: 'inherit' });
process.exit(result.status ?? 1);
