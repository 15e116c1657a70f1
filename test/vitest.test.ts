// thread-kill/vitest with the real Vitest CLI in a user's project: Vitest 4
// (this repo's devDependency: Node 20 and up) and Vitest 5 (installed from the
// registry where its engines allow, Node >= 22.12). A synchronous infinite
// loop in a test and in a hook fails at its timeout with Vitest's timeout
// error and the loop's stack, the other tests report as usual, no RPC times
// out, and the run ends by itself — pools forks (the default), threads and
// vmThreads. A test blocked where its interrupt cannot land fails the run
// loudly (the stuck guard) instead of hanging it.
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { ROOT } from './helpers';
import { Project, nodeAtLeast, runNode, userProject } from './runner-project';

const LOOP_SPEC = `
import { test, expect, describe, beforeEach } from 'vitest';
import { isMainThread } from 'node:worker_threads';
import { appendFileSync } from 'node:fs';
test('passes', () => { appendFileSync(process.env.TK_WHERE, JSON.stringify({ pid: process.pid, isMainThread }) + '\\n'); expect(1).toBe(1); });
test('fails', () => { expect(1).toBe(2); });
test('loops forever', function loopsForever() { for (;;) {} }, 300);
describe('hook', () => {
  beforeEach(function stuckHook() { for (;;) {} }, 200);
  test('never runs', () => {});
});
test('after', () => {});
`;

const NORMAL_SPEC = `
import { test, expect, describe, beforeAll, afterEach } from 'vitest';
test('passes', () => { expect(1).toBe(1); });
test('fails', () => { expect({ a: 1 }).toEqual({ a: 2 }); });
test('async times out', async () => { await new Promise(() => {}); }, 150);
test('throws', () => { throw new TypeError('mine'); });
describe('suite', () => {
  beforeAll(() => {});
  afterEach(() => {});
  test('slow but in time', () => { const end = Date.now() + 30; while (Date.now() < end); }, 2000);
});
`;

const BLOCKED_SPEC = `
import { test } from 'vitest';
import { execSync } from 'node:child_process';
test('passes', () => {});
test('blocked in a system call 🔒', function blocked() { execSync('sleep 30', { stdio: 'ignore' }); }, 300);
`;

const BLOCKED_HOOK_SPEC = `
import { test, describe, beforeEach } from 'vitest';
import { execSync } from 'node:child_process';
describe('suite', () => {
  beforeEach(function blockedHook() { execSync('sleep 30', { stdio: 'ignore' }); }, 300);
  test('never runs', () => {});
});
`;

const FILES = {
  'package.json': JSON.stringify({ name: 'app', private: true, type: 'module' }),
  'vitest.config.mjs': fs.readFileSync(path.join(ROOT, 'examples', 'vitest', 'vitest.config.mjs'), 'utf8'), // the README's
  'plain.config.mjs': "export default { test: { include: ['**/*.test.js'] } };",
  'loop.test.js': LOOP_SPEC,
  'normal.test.js': NORMAL_SPEC,
  'blocked/blocked.test.js': BLOCKED_SPEC,
  'stuck-hook/hook.test.js': BLOCKED_HOOK_SPEC,
  'budgets/config.test.js': "import { test, beforeAll } from 'vitest';\ntest('loops', function loopsForever() { for (;;) {} });\n",
  'budgets/hook.test.js': "import { test, beforeAll } from 'vitest';\nbeforeAll(function stuckHook() { for (;;) {} });\ntest('never runs', () => {});\n",
};

interface AssertionResult { fullName: string; status: string; failureMessages: string[] }
interface JsonReport { testResults: Array<{ name: string; assertionResults: AssertionResult[] }> }

function results(p: Project, file: string): Map<string, AssertionResult> {
  const rep = JSON.parse(fs.readFileSync(path.join(p.dir, 'report.json'), 'utf8')) as JsonReport;
  const f = rep.testResults.find((t) => path.basename(t.name) === file);
  assert.ok(f, `no results for ${file}`);
  return new Map(f.assertionResults.map((a) => [a.fullName, a]));
}

const VITEST = ['node_modules/vitest/vitest.mjs', 'run', '--reporter=json', '--outputFile=report.json'];

function suite(major: number, make: () => Project): void {
  describe(`thread-kill/vitest (Vitest ${major} CLI)`, function () {
    this.timeout(240_000);
    let project: Project;
    before(function () {
      this.timeout(300_000); // (an install from the registry)
      project = make();
    });
    after(() => project?.remove());

    for (const pool of ['forks', 'threads', 'vmThreads']) {
      it(`pool ${pool}: a looping test and hook fail with Vitest's timeout error and the loop's stack; the rest report as usual`, async () => {
        const where = path.join(project.dir, `where-${pool}.jsonl`);
        const r = await runNode([...VITEST, `--pool=${pool}`, 'loop.test.js'], project.dir, { TK_WHERE: where });
        const out = r.stdout + r.stderr;
        assert.strictEqual(r.code, 1, out);
        assert.doesNotMatch(out, /onTaskUpdate|Timeout calling|could not be stopped|Unhandled/i);
        const t = results(project, 'loop.test.js');
        assert.deepStrictEqual([...t].map(([name, a]) => `${a.status} ${name}`).sort(),
          ['failed fails', 'failed hook never runs', 'failed loops forever', 'passed after', 'passed passes']);
        assert.match(t.get('fails')!.failureMessages[0], /^AssertionError: expected 1 to be 2/);
        // The loop's frame, at the source's line and column (the `for`): Vitest transforms
        // the file and, in vmThreads, runs it in a vm context; its source maps apply to ours.
        const loop = t.get('loops forever')!.failureMessages[0];
        assert.match(loop, new RegExp(`^(Test)?(Timeout)?Error: Test timed out in 300ms\\.\\nIf this is a long-running test, pass a timeout value`), loop);
        assert.match(loop, /\n\s+at loopsForever \(.*loop\.test\.js:7:49\)/, loop);
        const hook = t.get('hook never runs')!.failureMessages[0];
        assert.match(hook, /^(Hook)?(Timeout)?Error: Hook timed out in 200ms\./, hook);
        assert.match(hook, /\n\s+at stuckHook \(.*loop\.test\.js:9:37\)/, hook);
        // The pool really was that one.
        const seen = JSON.parse(fs.readFileSync(where, 'utf8').trim()) as { pid: number; isMainThread: boolean };
        assert.strictEqual(seen.isMainThread, pool === 'forks', JSON.stringify(seen));
        assert.notStrictEqual(seen.pid, undefined);
      });
    }

    it('the budget is the test\'s or hook\'s timeout as Vitest sets it: --testTimeout, --hookTimeout', async () => {
      const r = await runNode([...VITEST, '--reporter=default', '--testTimeout=350', '--hookTimeout=250', 'budgets'], project.dir);
      const out = r.stdout + r.stderr;
      assert.strictEqual(r.code, 1, out);
      const loop = results(project, 'config.test.js').get('loops')!.failureMessages[0];
      assert.match(loop, /^(Test)?(Timeout)?Error: Test timed out in 350ms\./, loop);
      // A beforeAll that fails fails its file (its tests are skipped): the file's message, and the stack as printed.
      const rep = JSON.parse(fs.readFileSync(path.join(project.dir, 'report.json'), 'utf8')) as { testResults: Array<{ name: string; message: string }> };
      assert.match(rep.testResults.find((t) => t.name.endsWith('hook.test.js'))!.message, /^Hook timed out in 250ms\./);
      assert.match(out, /Hook timed out in 250ms\.[\s\S]*?stuckHook budgets\/hook\.test\.js:2:\d+/, out);
    });

    it('tests that finish (pass, fail, async timeout, throw) report exactly as with Vitest\'s own runner', async () => {
      const summary = () => [...results(project, 'normal.test.js')].map(([name, a]) => `${a.status} ${name}: ${a.failureMessages.map((m) => m.split('\n')[0]).join('|')}`).sort();
      const plugged = await runNode([...VITEST, 'normal.test.js'], project.dir);
      const withPlugin = summary();
      const plain = await runNode([...VITEST, '--config=plain.config.mjs', 'normal.test.js'], project.dir);
      assert.deepStrictEqual(withPlugin, summary());
      assert.deepStrictEqual([plugged.code, plain.code], [1, 1]);
      assert.ok(withPlugin.some((l) => l.startsWith('failed async times out: ')), withPlugin.join('\n'));
    });

    for (const pool of ['forks', 'threads']) {
      it(`pool ${pool}: a test blocked in a system call past its timeout + grace fails the run loudly, naming it and where it is stuck`, async () => {
        const r = await runNode([...VITEST, `--pool=${pool}`, 'blocked'], project.dir, { THREAD_KILL_STUCK_GRACE_MS: '500' });
        const out = r.stdout + r.stderr;
        assert.notStrictEqual(r.code, 0, out);
        assert.match(out, /thread-kill: vitest test "blocked\/blocked\.test\.js > blocked in a system call 🔒" ran past its 300 ms timeout and could not be stopped within 500 ms more: it never got back to JavaScript: it is blocked in native code or a system call/, out);
        assert.ok(r.ms < 25_000, `the run ended by itself, long before the sleep (${r.ms} ms)`);
      });
    }

    it('a hook blocked in a system call is named as a hook of its suite', async () => {
      const r = await runNode([...VITEST, 'stuck-hook'], project.dir, { THREAD_KILL_STUCK_GRACE_MS: '500' });
      const out = r.stdout + r.stderr;
      assert.notStrictEqual(r.code, 0, out);
      assert.match(out, /thread-kill: vitest hook "stuck-hook\/hook\.test\.js > suite > beforeEach hook" ran past its 300 ms timeout and could not be stopped within 500 ms more/, out);
    });
  });
}

suite(4, () => userProject('vitest4', ['vitest'], FILES));
if (nodeAtLeast(22, 12)) {
  suite(5, () => userProject('vitest5', [], FILES, ['vitest@^5']));
}
