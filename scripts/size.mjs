// What the browser build costs an app (`npm run size`, which builds first): apps that import the
// built package by name, as an app's bundler sees it (the exports map's `browser` condition),
// bundled with esbuild for the browser, minified, then gzipped (level 9). Two apps: one that
// uses only `connect()`, and one that keeps every export of the entry. Each twice: with `rxjs`
// left external (an app that already has RxJS pays this), and with the parts of RxJS it uses
// bundled in.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';

const root = fileURLToPath(new URL('..', import.meta.url));
if (!existsSync(join(root, 'dist/esm/index.browser.js'))) {
  console.error('size: dist/esm/index.browser.js is missing: run `npm run build` first');
  process.exit(1);
}

const KiB = 1024;
const APPS = {
  'connect() only': "export { connect } from 'rx-websocket-peer';",
  'every export': "export * from 'rx-websocket-peer';",
};

async function measure(app, external) {
  const result = await build({
    absWorkingDir: root,
    // In the repository root, the package resolves itself by name through its exports map.
    stdin: { contents: app, resolveDir: root, sourcefile: 'app.js', loader: 'js' },
    bundle: true,
    platform: 'browser',
    format: 'esm',
    conditions: ['browser'],
    target: 'es2022',
    minify: true,
    external,
    write: false,
    logLevel: 'silent',
  });
  const code = result.outputFiles[0].contents;
  return { minified: code.byteLength, gzipped: gzipSync(code, { level: 9 }).byteLength };
}

const kib = (bytes) => `${(bytes / KiB).toFixed(1)} KiB`.padStart(9);
console.log('browser bundles of the built package (esbuild, minified, gzip -9):');
for (const [name, app] of Object.entries(APPS)) {
  for (const [how, external] of [
    ['without rxjs (external)', ['rxjs']],
    ['with rxjs bundled', []],
  ]) {
    const { minified, gzipped } = await measure(app, external);
    console.log(`  ${`${name}, ${how}`.padEnd(40)} ${kib(minified)} minified  ${kib(gzipped)} gzipped`);
  }
}
