// The Angular example's tests (examples/angular): packs the library (built first if its sources
// changed) and installs it into the example when it changed, installs the example if needed (see
// scripts/test-setup.mjs), then runs the example's own `npm test`: `ng build` (for the browser
// spec), tsc over the app, specs and server.mjs, then its mocha specs. Extra arguments go to mocha.
//   npm run test:angular
//   npm run test:angular -- --grep Chromium
import { spawnSync } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { angularExample } from './test-setup.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const example = join(root, 'examples', 'angular');
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

angularExample();
// The same command as in a copy of the example outside this repository.
const started = Date.now();
const result = spawnSync(npm, ['test', '--silent', '--', ...process.argv.slice(2)], {
  cwd: example,
  stdio: 'inherit',
  env: { ...process.env, NG_CLI_ANALYTICS: 'false' },
});
if (result.status !== 0) {
  console.error(`examples/angular: npm test failed (${result.error?.message ?? `exit ${result.status}`})`);
}
console.log(`examples/angular: npm test (${((Date.now() - started) / 1000).toFixed(1)} s)`);
process.exit(result.status ?? 1);
