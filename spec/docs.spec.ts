import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import ts from 'typescript';

// The README and docs/*.md as a reader meets them: every ```ts block compiles, strict, against the
// built package as its users get it (`rx-websocket-peer` resolved through a node_modules symlink
// and the package's exports map), and every relative link and anchor leads somewhere.
//
// Markers, HTML comments (GitHub does not show them) on the lines just above a fence:
//   <!-- prelude: declare const ticks$: Observable<string>; -->   more lines put before that block
//   <!-- not-compiled: why -->                                     a block meant not to compile
// Every block also gets PRELUDE below: the names the docs use without defining them.
// Needs `npm run build` first; `npm test` does it.

const root = fileURLToPath(new URL('..', import.meta.url));

/** Names that snippets use as given: a peer, a server, a URL, a handler. Global, so a block may shadow them. */
const PRELUDE = [
  "declare const peer: import('rx-websocket-peer').WebSocketPeer;",
  "declare const server: import('rx-websocket-peer').PeerServer;",
  'declare const url: string;',
  'declare function handle(...values: unknown[]): void;',
].join('\n');

/** Languages compiled; the others (sh, json, gdscript, text) are prose to the suite. */
const COMPILED = new Set(['ts', 'typescript']);

/** README.md and every docs/*.md, relative to the root. */
function docFiles(): string[] {
  const docs = existsSync(join(root, 'docs'))
    ? readdirSync(join(root, 'docs'))
        .filter((name) => name.endsWith('.md'))
        .sort()
        .map((name) => `docs/${name}`)
    : [];
  return ['README.md', ...docs];
}

interface Block {
  file: string;
  /** 1-based line of the block's first line of code. */
  line: number;
  lang: string;
  code: string;
  prelude: string[];
  notCompiled?: string;
}

interface Parsed {
  blocks: Block[];
  /** Markdown outside fenced blocks, code lines blanked so that line numbers hold. */
  prose: string[];
  /** Markers that do not sit right above a fence. */
  strayMarkers: string[];
}

const MARKER = /^\s*<!--\s*(prelude|not-compiled):([\s\S]*?)-->\s*$/;

function parse(file: string): Parsed {
  const lines = readFileSync(join(root, file), 'utf8').split('\n');
  const blocks: Block[] = [];
  const prose: string[] = [];
  const strayMarkers: string[] = [];
  let pending: { line: number; kind: string; text: string }[] = [];
  for (let i = 0; i < lines.length; i++) {
    const text = lines[i] ?? '';
    const fence = /^(\s*)(`{3,}|~{3,})\s*([^\s`]*)/.exec(text);
    if (fence) {
      const [, indent = '', marks = '', lang = ''] = fence;
      const body: string[] = [];
      prose.push('');
      let j = i + 1;
      for (; j < lines.length; j++) {
        const candidate = lines[j] ?? '';
        if (candidate.trim().startsWith(marks) && candidate.trim().replace(/[`~]/g, '') === '') break;
        body.push(candidate.startsWith(indent) ? candidate.slice(indent.length) : candidate.trimStart());
        prose.push('');
      }
      prose.push('');
      const block: Block = { file, line: i + 2, lang: lang.toLowerCase(), code: body.join('\n'), prelude: [] };
      for (const marker of pending) {
        if (!COMPILED.has(block.lang))
          strayMarkers.push(`${file}:${marker.line}: ${marker.kind} above a ${lang || 'plain'} block`);
        else if (marker.kind === 'prelude') block.prelude.push(marker.text);
        else block.notCompiled = marker.text;
      }
      pending = [];
      blocks.push(block);
      i = j;
      continue;
    }
    const marker = MARKER.exec(text);
    if (marker) pending.push({ line: i + 1, kind: marker[1] ?? '', text: (marker[2] ?? '').trim() });
    else if (text.trim() !== '') {
      for (const stray of pending) strayMarkers.push(`${file}:${stray.line}: ${stray.kind} not right above a fence`);
      pending = [];
    }
    prose.push(text);
  }
  for (const stray of pending) strayMarkers.push(`${file}:${stray.line}: ${stray.kind} at the end of the file`);
  return { blocks, prose, strayMarkers };
}

/** The anchor GitHub gives a heading: lower case, punctuation dropped, spaces to hyphens. */
function slug(heading: string): string {
  const text = heading
    .split(/(`[^`]*`)/) // code spans read as they are; outside them, links and HTML tags
    .map((part, index) =>
      index % 2 === 1 ? part : part.replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1').replace(/<[^>]+>/g, ''),
    )
    .join('')
    .trim()
    .toLowerCase();
  return text.replace(/[^\p{L}\p{M}\p{N}_\- ]/gu, '').replace(/ /g, '-');
}

/** The anchors of a file's headings, with GitHub's -1, -2... for repeats. */
function anchors(parsed: Parsed): Set<string> {
  const seen = new Map<string, number>();
  const result = new Set<string>();
  for (const text of parsed.prose) {
    const heading = /^\s{0,3}#{1,6}\s+(.*?)\s*#*\s*$/.exec(text);
    if (!heading) continue;
    const base = slug(heading[1] ?? '');
    const count = seen.get(base) ?? 0;
    seen.set(base, count + 1);
    result.add(count === 0 ? base : `${base}-${count}`);
  }
  return result;
}

/** Relative link targets in the prose, with their lines: `[text](target)` and `[label]: target`. */
function links(parsed: Parsed): { line: number; target: string }[] {
  // Code spans may run over a line end; blank them (keeping line ends) so no link is read in code.
  const text = parsed.prose.join('\n').replace(/(`+)[\s\S]*?\1/g, (span) => span.replace(/[^\n]/g, ' '));
  const lineOf = (offset: number): number => text.slice(0, offset).split('\n').length;
  const found: { line: number; target: string }[] = [];
  for (const match of text.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) {
    found.push({ line: lineOf(match.index), target: match[1] ?? '' });
  }
  for (const match of text.matchAll(/^ {0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)/gm)) {
    found.push({ line: lineOf(match.index), target: match[1] ?? '' });
  }
  return found.filter(({ target }) => !/^[a-z][a-z0-9+.-]*:/i.test(target));
}

/** The options of every program here: strict, ESM, Node's types, as an app on Node 20 has them. */
const COMPILER_OPTIONS = {
  strict: true,
  noImplicitReturns: true,
  noImplicitOverride: true,
  noFallthroughCasesInSwitch: true,
  target: 'es2022',
  lib: ['es2022'],
  module: 'nodenext',
  moduleResolution: 'nodenext',
  types: ['node'],
  typeRoots: [join(root, 'node_modules/@types')],
  skipLibCheck: true,
  noEmit: true,
};

/**
 * Writes `files` into a fresh directory laid out as an app that depends on the package (a
 * node_modules symlink to this repository, so its exports map picks the built declarations, beside
 * the app's own rxjs and redis), and hands `use` the program made of them. Removes the directory after.
 */
function withProgram<T>(files: Map<string, string>, use: (program: ts.Program, dir: string) => T): T {
  const dir = mkdtempSync(join(tmpdir(), 'rxwp-docs-'));
  try {
    mkdirSync(join(dir, 'node_modules'));
    symlinkSync(root, join(dir, 'node_modules/rx-websocket-peer'), 'dir');
    symlinkSync(join(root, 'node_modules/rxjs'), join(dir, 'node_modules/rxjs'), 'dir');
    // And node-redis, which an app that uses redisRooms() installs (its examples import it).
    symlinkSync(join(root, 'node_modules/redis'), join(dir, 'node_modules/redis'), 'dir');
    symlinkSync(join(root, 'node_modules/@redis'), join(dir, 'node_modules/@redis'), 'dir');
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ type: 'module', private: true }));
    for (const [name, text] of files) writeFileSync(join(dir, name), text);
    const { options, errors } = ts.convertCompilerOptionsFromJson(COMPILER_OPTIONS, dir);
    expect(errors.map((error) => ts.flattenDiagnosticMessageText(error.messageText, '\n'))).to.deep.equal([]);
    const program = ts.createProgram(
      [...files.keys()].map((name) => join(dir, name)),
      options,
    );
    return use(program, dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Compiles the blocks, each as a module of its own; returns `file:line: message` per error. */
function compile(blocks: Block[]): string[] {
  const files = new Map([['prelude.d.ts', PRELUDE + '\n']]);
  const sources = new Map<string, { block: Block; offset: number }>();
  blocks.forEach((block, index) => {
    const head = block.prelude.join('\n');
    const name = `block${index}.ts`;
    files.set(name, `${head === '' ? '' : head + '\n'}${block.code}\nexport {};\n`);
    sources.set(name, { block, offset: head === '' ? 0 : head.split('\n').length });
  });
  return withProgram(files, (program, dir) =>
    ts.getPreEmitDiagnostics(program).map((diagnostic) => {
      const message = ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n');
      const source = diagnostic.file && sources.get(relative(dir, diagnostic.file.fileName));
      if (!diagnostic.file || !source)
        return `${diagnostic.file?.fileName ?? '(program)'}: TS${diagnostic.code} ${message}`;
      const { line } = diagnostic.file.getLineAndCharacterOfPosition(diagnostic.start ?? 0);
      const where =
        line < source.offset
          ? `${source.block.file}:${source.block.line - 1} (its prelude)`
          : `${source.block.file}:${source.block.line + line - source.offset}`;
      return `${where}: TS${diagnostic.code} ${message}`;
    }),
  );
}

/** The string codes of the package's errors, read from its built declarations. */
function declaredErrorCodes(): string[] {
  const source = [
    "import type { ErrorCode, JsonCodecErrorCode, VariantErrorCode } from 'rx-websocket-peer';",
    'export type Codes = ErrorCode | JsonCodecErrorCode | VariantErrorCode;',
  ].join('\n');
  return withProgram(new Map([['codes.ts', source]]), (program, dir) => {
    expect(
      ts.getPreEmitDiagnostics(program).map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n')),
    ).to.deep.equal([]);
    const file = program.getSourceFile(join(dir, 'codes.ts'));
    const alias = file?.statements.find(ts.isTypeAliasDeclaration);
    if (!alias) throw new Error('codes.ts: no type alias');
    const type = program.getTypeChecker().getTypeAtLocation(alias.name);
    return (type.isUnion() ? type.types : [type])
      .filter((t) => t.isStringLiteral())
      .map((t) => (t as ts.StringLiteralType).value);
  });
}

describe('the docs (README.md, docs/*.md)', () => {
  const files = docFiles();
  const parsed = new Map(files.map((file) => [file, parse(file)] as const));
  const all = [...parsed.values()];

  it('name the language of every fenced block, so that no TypeScript escapes the compiler', () => {
    const unnamed = all
      .flatMap(({ blocks }) => blocks.filter((block) => block.lang === ''))
      .map((b) => `${b.file}:${b.line - 1}`);
    expect(unnamed).to.deep.equal([]);
  });

  it('put each marker right above a ```ts fence', () => {
    expect(all.flatMap(({ strayMarkers }) => strayMarkers)).to.deep.equal([]);
  });

  it('hold ```ts blocks that compile, strict, against the built package', function () {
    this.timeout(120_000);
    const entry = join(root, 'dist/esm/index.d.ts');
    if (!existsSync(entry)) throw new Error(`${entry} is missing: run \`npm run build\` first`);
    const blocks = all.flatMap((doc) => doc.blocks).filter((block) => COMPILED.has(block.lang));
    expect(blocks.length, 'ts blocks found').to.be.greaterThan(10);
    const errors = compile(blocks.filter((block) => block.notCompiled === undefined));
    expect(errors, 'type errors').to.deep.equal([]);
  });

  it('hold no block marked not-compiled that compiles after all', function () {
    this.timeout(120_000);
    const marked = all.flatMap((doc) => doc.blocks).filter((block) => block.notCompiled !== undefined);
    const compiling = marked.filter((block) => compile([block]).length === 0).map((b) => `${b.file}:${b.line}`);
    expect(compiling).to.deep.equal([]);
  });

  it('list every error code the package declares in a table of docs/api.md or docs/godot.md', function () {
    this.timeout(120_000);
    const codes = declaredErrorCodes();
    expect(codes.length, 'codes declared').to.be.greaterThan(20);
    // A code is listed where it stands in the first cell of a table row: `| \`ERR_...\` | ... |`.
    const listed = new Set(
      ['docs/api.md', 'docs/godot.md']
        .flatMap((file) => parsed.get(file)?.prose ?? [])
        .filter((line) => line.startsWith('|'))
        .flatMap((line) => [...(line.split('|')[1] ?? '').matchAll(/`(\w+)`/g)].map((match) => match[1])),
    );
    expect(codes.filter((code) => !listed.has(code))).to.deep.equal([]);
  });

  it('link only to files that exist and to headings that exist in them', () => {
    const broken: string[] = [];
    let checked = 0;
    for (const [file, doc] of parsed) {
      for (const { line, target } of links(doc)) {
        checked++;
        const [path = '', anchor] = target.split('#', 2);
        const resolved = path === '' ? join(root, file) : resolve(dirname(join(root, file)), decodeURI(path));
        const name = relative(root, resolved);
        if (!existsSync(resolved)) {
          broken.push(`${file}:${line}: ${target} (no ${name})`);
          continue;
        }
        if (anchor === undefined) continue;
        const headings = parsed.get(name) ?? (name.endsWith('.md') ? parse(name) : undefined);
        if (!headings) broken.push(`${file}:${line}: ${target} (an anchor into a file that is not markdown)`);
        else if (!anchors(headings).has(anchor))
          broken.push(`${file}:${line}: ${target} (no heading #${anchor} in ${name})`);
      }
    }
    expect(broken).to.deep.equal([]);
    expect(checked, 'links checked').to.be.greaterThan(50);
  });

  it('link back to the README from the first lines of every file under docs/', () => {
    const docs = files.filter((file) => file.startsWith('docs/'));
    expect(docs.length, 'files under docs/').to.be.greaterThan(0);
    const without = docs.filter((file) => {
      const head = parsed.get(file)?.prose.slice(0, 5) ?? [];
      return !links({ blocks: [], prose: head, strayMarkers: [] }).some(({ target }) => target === '../README.md');
    });
    expect(without).to.deep.equal([]);
  });

  it('make the anchors GitHub makes', () => {
    expect(slug('Stop or abort')).to.equal('stop-or-abort');
    expect(slug('Flow control: `backpressure()`, `sendAll()`, `consumePackets()`')).to.equal(
      'flow-control-backpressure-sendall-consumepackets',
    );
    expect(slug('`connect(url, options?)`: `Observable<WebSocketPeer>`')).to.equal(
      'connecturl-options-observablewebsocketpeer',
    );
    expect(slug('Types without `@types/node`')).to.equal('types-without-typesnode');
    expect(slug('What `npm test` installs')).to.equal('what-npm-test-installs');
  });
});
