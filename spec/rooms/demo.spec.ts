// `npm run demo:rooms` (demo/rooms.mjs), run as a reader would: a child process against the built
// package, which must end by itself, exit 0, and say that each client received every message
// exactly once, in order, the one behind the cutting proxy too. Needs `npm run build` first;
// `npm test` does it.
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';

const root = fileURLToPath(new URL('../..', import.meta.url));

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
}

function runDemo(): Promise<Run> {
  const start = Date.now();
  return new Promise((resolve) => {
    execFile(process.execPath, ['demo/rooms.mjs'], { cwd: root, timeout: 20_000 }, (error, stdout, stderr) => {
      const failed = error as (Error & { code?: unknown; signal?: NodeJS.Signals | null }) | null;
      resolve({
        code: failed === null ? 0 : typeof failed.code === 'number' ? failed.code : null,
        signal: failed?.signal ?? null,
        stdout,
        stderr,
        ms: Date.now() - start,
      });
    });
  });
}

describe('npm run demo:rooms (demo/rooms.mjs)', function () {
  this.timeout(30_000);

  it('is the script package.json runs as demo:rooms, after a build', () => {
    const pkg = JSON.parse(readFileSync(`${root}/package.json`, 'utf8')) as { scripts: Record<string, string> };
    expect(pkg.scripts['demo:rooms']).to.equal('npm run build --silent && node demo/rooms.mjs');
  });

  it('ends by itself within 10 s, exit 0: every client got every message once, in order, the cut one too', async () => {
    if (!existsSync(`${root}/dist/esm/index.js`)) throw new Error('dist/ is missing: run `npm run build` first');
    const run = await runDemo();
    const context = `exit ${run.code} (${run.signal}) after ${run.ms} ms\n${run.stdout}\n${run.stderr}`;
    expect(run.code, context).to.equal(0);
    expect(run.ms, context).to.be.below(12_000);
    expect(run.stderr, context).to.equal('');
    const lines = run.stdout.trimEnd().split('\n');
    // Each line: the time since the start, who, and what.
    for (const line of lines) expect(line, context).to.match(/^ *\d+ ms {2}\S+ +\S/);

    // carol's connection events as they happened: cut, reconnected, resumed after the offset she had.
    const cuts = lines.filter((line) => /^ *\d+ ms {2}carol {3}cut \(/.test(line));
    const resumes = lines
      .map((line) => /carol {3}reconnected \(connection (\d+)\): resumes 'demo' after offset (\d+)/.exec(line))
      .filter((match) => match !== null)
      .map((match) => ({ connection: Number(match[1]), offset: Number(match[2]) }));
    expect(cuts.length, context).to.be.at.least(2);
    expect(resumes.length, context).to.be.at.least(2);
    expect(
      resumes.map((r) => r.connection),
      context,
    ).to.deep.equal(resumes.map((_, i) => i + 2));
    for (let i = 1; i < resumes.length; i++) {
      expect(resumes[i]?.offset, context).to.be.at.least(resumes[i - 1]?.offset as number);
    }

    // The final lines: the room, each client's counts and check, the result.
    const last = lines.slice(-5).map((line) => line.replace(/^ *\d+ ms {2}/, ''));
    expect(last[0], context).to.equal("server  room 'demo' holds 300 messages (offsets 1..300), 300 expected");
    const all = 'received 300 of 300 (300 distinct offsets, in order), 100 of 100 publishes acknowledged';
    expect(last[1], context).to.equal(`check   alice  ${all}, 1 connection: ok`);
    expect(last[2], context).to.equal(`check   bob    ${all}, 1 connection: ok`);
    const carol = new RegExp(
      `^check   carol  ${all.replace(/[()]/g, '\\$&')}, (\\d+) cuts, (\\d+) connections: ok$`,
    ).exec(last[3] as string);
    expect(carol, context).to.not.equal(null);
    expect(Number(carol?.[1]), context).to.equal(cuts.length);
    expect(Number(carol?.[2]), context).to.equal(resumes.length + 1);
    expect(last[4], context).to.equal('result  ok: every client received every message exactly once, in order');
  });
});
