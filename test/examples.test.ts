// The README's code is real: every JavaScript block in it is a file of
// examples/ (or an excerpt of one, linked right below it), and every example
// program runs, exits 0 and prints what it says.
import * as assert from 'assert';
import { execFile } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { ROOT } from './helpers';

const EXAMPLES = path.join(ROOT, 'examples');
const README = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');

/** The example programs (`node examples/<file>`), and what their output must show. */
const PROGRAMS: Record<string, RegExp[]> = {
  'main.mjs': [/outcome: 'killed'/],
  'api.mjs': [/^1 function function\n$/],
  'runaway-task.js': [/^started\n\{ cancelled: 'too slow' \}\nnext: done\n$/],
  'deadline.js': [/^gave up after 50 ms RegionTimeoutError: /, /at parseUntrustedInput \(.*deadline\.js:3:/],
  'piscina/main.js': [/^true too slow\ndone\n$/],
  'workerpool/main.js': [/^TimeoutError\nsame worker: true done\n$/],
  'node-test.mjs': [/^ {4}ok 1 - finishes in time$/m, /# TODO a loop that never ends/, /test timed out after 200ms/, /node-test\.mjs:9:/],
  'stress.mjs': [/^OK 20\n$/],
};
/** Files that are not programs of their own, and the test that runs them. */
const PARTS: Record<string, string> = {
  'piscina/worker.js': 'piscina/main.js',
  'workerpool/worker.js': 'workerpool/main.js',
  'jest/jest.config.js': 'test/jest.test.ts (the project\'s config)',
  'vitest/vitest.config.mjs': 'test/vitest.test.ts (the project\'s config)',
  'my-worker.js': 'test/cli.test.ts (stress --script)',
  'my-interruptible-worker.js': 'test/cli.test.ts (stress --script --ops interrupt)',
  'my-stoppable-worker.js': 'test/cli.test.ts (stress --script --ops stop)',
};

function exampleFiles(dir = EXAMPLES): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? exampleFiles(path.join(dir, e.name)) : [path.relative(EXAMPLES, path.join(dir, e.name))]);
}

function run(file: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [path.join(EXAMPLES, file)], { cwd: ROOT, encoding: 'utf8', timeout: 50_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : null) : 0, stdout, stderr });
    });
  });
}

interface Block { lang: string; body: string; after: string; line: number }

/** The README's fenced code blocks, each with the text up to the next block. */
function readmeBlocks(): Block[] {
  const blocks: Block[] = [];
  const re = /^```(\w*)\n([\s\S]*?)^```$/gm;
  for (let m = re.exec(README); m; m = re.exec(README)) {
    const end = m.index + m[0].length;
    const next = README.indexOf('\n```', end);
    blocks.push({ lang: m[1], body: m[2], after: README.slice(end, next < 0 ? undefined : next), line: README.slice(0, m.index).split('\n').length });
  }
  return blocks;
}

const JS = new Set(['js', 'mjs', 'cjs', 'ts', 'mts', 'cts', 'javascript', 'typescript', 'jsx', 'tsx']);

describe('examples/ and the README', () => {
  it('every file of examples/ is a program run here, or a part of one', () => {
    assert.deepStrictEqual(exampleFiles().sort(), [...Object.keys(PROGRAMS), ...Object.keys(PARTS)].sort());
  });

  for (const [file, expected] of Object.entries(PROGRAMS)) {
    it(`node examples/${file} exits 0 and prints what it says`, async () => {
      const r = await run(file);
      assert.strictEqual(r.code, 0, `exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
      for (const re of expected) assert.match(r.stdout, re);
    });
  }

  it('every JavaScript block of the README is an examples/ file, or an excerpt linked below it', () => {
    const files = exampleFiles().map((f) => ({ f, text: fs.readFileSync(path.join(EXAMPLES, f), 'utf8') }));
    const js = readmeBlocks().filter((b) => JS.has(b.lang));
    assert.ok(js.length >= 9, `only ${js.length} JavaScript blocks found`);
    for (const b of js) {
      if (files.some(({ text }) => text === b.body)) continue;
      const from = files.filter(({ text }) => text.includes(b.body));
      assert.ok(from.length > 0, `README.md:${b.line}: this \`\`\`${b.lang} block is no examples/ file (nor part of one):\n${b.body}`);
      const linked = from.some(({ f }) => b.after.includes(`examples/${f}`) || b.after.includes(`examples/${path.dirname(f)}/`));
      assert.ok(linked, `README.md:${b.line}: an excerpt of examples/${from[0].f}, which the text below it must link`);
    }
  });

  it('every example is shown in the README or linked from it', () => {
    const bodies = readmeBlocks().map((b) => b.body);
    for (const f of exampleFiles()) {
      const text = fs.readFileSync(path.join(EXAMPLES, f), 'utf8');
      assert.ok(bodies.includes(text) || README.includes(`examples/${f}`), `examples/${f} is neither shown in nor linked from README.md`);
    }
  });
});
