// What the browser build costs an app: src/index.browser.ts bundled with esbuild for the browser,
// minified, then gzipped (level 9). Two figures: the library alone, with `rxjs` left external (an
// app that already has RxJS pays this), and with the parts of RxJS it uses bundled in.
// Every export is kept (the entry re-exports them all); an app that imports less pays less.
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';

const root = fileURLToPath(new URL('..', import.meta.url));

const KiB = 1024;

async function measure(external) {
  const result = await build({
    absWorkingDir: root,
    entryPoints: ['src/index.browser.ts'],
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
const rows = [
  ['without rxjs (external)', await measure(['rxjs'])],
  ['with rxjs bundled', await measure([])],
];
console.log('browser bundle of src/index.browser.ts (esbuild, minified, gzip -9):');
for (const [name, { minified, gzipped }] of rows) {
  console.log(`  ${name.padEnd(24)} ${kib(minified)} minified  ${kib(gzipped)} gzipped`);
}
