// thread-kill/jest with the real Jest 30 CLI in a user's project: a
// synchronous infinite loop in a test and in a hook fails with Jest's own
// timeout error and the loop's stack; the other tests report as usual; the
// run ends by itself — in child processes (the default), --runInBand and
// workerThreads. And a test blocked where its interrupt cannot land fails the
// run loudly (the stuck guard), instead of hanging it.
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { ROOT } from './helpers';
import { Project, RunResult, runNode, userProject } from './runner-project';

const LOOP_SPEC = `
const { isMainThread } = require('worker_threads');
test('passes', () => {
  require('fs').appendFileSync(process.env.TK_WHERE, JSON.stringify({ pid: process.pid, isMainThread }) + '\\n');
  expect(1).toBe(1);
});
test('fails', () => { expect(1).toBe(2); });
test('loops forever', function loopsForever() { for (;;) {} }, 300);
describe('hook', () => {
  beforeEach(function stuckHook() { for (;;) {} }, 200);
  test('never runs', () => {});
});
test('after', () => {});
test('done style', (done) => { setTimeout(done, 5); });
`;

const NORMAL_SPEC = `
test('passes', () => { expect(1).toBe(1); });
test('fails', () => { expect({ a: 1 }).toEqual({ a: 2 }); });
test('async times out', async () => { await new Promise(() => {}); }, 150);
test('done times out', (done) => {}, 150);
test('throws', () => { throw new TypeError('mine'); });
describe('suite', () => {
  beforeAll(() => {});
  afterEach(() => {});
  test('slow but in time', () => { const end = Date.now() + 30; while (Date.now() < end); }, 2000);
});
`;

// Retries: each attempt is guarded anew, including one whose beforeEach failed (Jest then never calls the test).
const RETRY_SPEC = `
jest.retryTimes(1);
let attempts = 0;
test('loops on its first attempt only', function loopsOnce() { if (attempts++ === 0) for (;;) {} }, 300);
let hookRuns = 0;
describe('a beforeEach that fails once', () => {
  beforeEach(() => { if (hookRuns++ === 0) throw new Error('the hook fails once'); });
  test('runs on the retry', () => { expect(hookRuns).toBe(2); });
  afterEach(() => {});
});
test('loops on every attempt', function loopsAlways() { for (;;) {} }, 200);
test('after', () => {});
`;

const BLOCKED_SPEC = `
test('passes', () => {});
test('blocked in a system call', function blocked() { require('child_process').execSync('sleep 30', { stdio: 'ignore' }); }, 300);
`;

const BLOCKED_HOOK_SPEC = `
describe('suite', () => {
  beforeEach(function blockedHook() { require('child_process').execSync('sleep 30', { stdio: 'ignore' }); }, 300);
  test('never runs', () => {});
});
`;

interface AssertionResult { fullName: string; status: string; failureMessages: string[]; invocations?: number }
interface JsonReport { numFailedTests: number; numPassedTests: number; testResults: Array<{ name: string; assertionResults: AssertionResult[] }> }

// (A fresh cache each run: with the timings of an earlier run Jest would run these fast files in band.)
let runs = 0;
const jest = (...args: string[]) => ['node_modules/jest/bin/jest.js', '--ci', '--json', '--outputFile=report.json', `--cacheDirectory=.jest-cache-${++runs}`, ...args];
const MODES: Array<[string, string[]]> = [
  ['child processes (the default)', ['--maxWorkers=2']],
  ['--runInBand', ['--runInBand']],
  ['workerThreads', ['--maxWorkers=2', '--workerThreads']],
];

function report(p: Project): JsonReport {
  return JSON.parse(fs.readFileSync(path.join(p.dir, 'report.json'), 'utf8')) as JsonReport;
}

function results(r: JsonReport, file: string): Map<string, AssertionResult> {
  const f = r.testResults.find((t) => path.basename(t.name) === file);
  assert.ok(f, `no results for ${file}`);
  return new Map(f.assertionResults.map((a) => [a.fullName, a]));
}

describe('thread-kill/jest (Jest 30 CLI)', function () {
  this.timeout(180_000);
  let project: Project;
  before(() => {
    project = userProject('jest', ['jest', 'jest-environment-node'], {
      'package.json': JSON.stringify({ name: 'app', private: true }),
      'jest.config.js': fs.readFileSync(path.join(ROOT, 'examples', 'jest', 'jest.config.js'), 'utf8'), // the README's
      'loop.test.js': LOOP_SPEC,
      // A second file: Jest only starts workers for more than one.
      'loop2.test.js': LOOP_SPEC,
      'normal.test.js': NORMAL_SPEC,
      'budgets/set-timeout.test.js': "jest.setTimeout(250);\ntest('loops', function loopsForever() { for (;;) {} });\n",
      'budgets/config.test.js': "test('loops', function loopsForever() { for (;;) {} });\n",
      'blocked/blocked.test.js': BLOCKED_SPEC,
      'retry/retry.test.js': RETRY_SPEC,
      'stuck-hook/hook.test.js': BLOCKED_HOOK_SPEC,
      'plain.config.js': 'module.exports = { testEnvironment: "node" };',
    });
  });
  after(() => project.remove());

  for (const [mode, flags] of MODES) {
    it(`${mode}: a looping test and hook fail with Jest's timeout error and the loop's stack; the rest report as usual`, async () => {
      const where = path.join(project.dir, `where-${flags.join('')}.jsonl`);
      const r: RunResult = await runNode(jest(...flags, 'loop.test.js', 'loop2.test.js'), project.dir, { TK_WHERE: where });
      assert.strictEqual(r.code, 1, r.stderr);
      assert.doesNotMatch(r.stderr, /could not be stopped/);
      // What Jest prints: the loop's frame, none of the plugin's.
      assert.match(r.stderr, /Exceeded timeout of 300 ms for a test\.[\s\S]*?at loopsForever \(loop2?\.test\.js:8:\d+\)/);
      assert.doesNotMatch(r.stderr, /^\s+at .*thread-kill/m);
      const rep = report(project);
      for (const file of ['loop.test.js', 'loop2.test.js']) {
        const t = results(rep, file);
        assert.deepStrictEqual([...t].map(([name, a]) => `${a.status} ${name}`).sort(), [
          'failed fails', 'failed hook never runs', 'failed loops forever', 'passed after', 'passed done style', 'passed passes']);
        assert.match(t.get('fails')!.failureMessages[0], /Expected: 2\n\s*Received: 1/);
        const loop = t.get('loops forever')!.failureMessages[0];
        assert.match(loop, /^Error: Exceeded timeout of 300 ms for a test\.\nAdd a timeout value to this test/);
        assert.match(loop, new RegExp(`\\n\\s+at loopsForever \\(.*${file.replace('.', '\\.')}:8:\\d+\\)`), loop);
        const hook = t.get('hook never runs')!.failureMessages[0];
        assert.match(hook, /^Error: Exceeded timeout of 200 ms for a hook\./);
        assert.match(hook, new RegExp(`\\n\\s+at stuckHook \\(.*${file.replace('.', '\\.')}:10:\\d+\\)`), hook);
      }
      // The mode really was that one.
      const seen = fs.readFileSync(where, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { pid: number; isMainThread: boolean });
      assert.strictEqual(seen.length, 2);
      const expected = mode === 'workerThreads' ? { inJestsProcess: true, isMainThread: false }
        : mode === '--runInBand' ? { inJestsProcess: true, isMainThread: true } : { inJestsProcess: false, isMainThread: true };
      for (const s of seen) assert.deepStrictEqual({ inJestsProcess: s.pid === r.pid, isMainThread: s.isMainThread }, expected);
    });
  }

  it('the budget is the test\'s timeout as Jest sets it: jest.setTimeout(ms), --testTimeout', async () => {
    const r = await runNode(jest('--runInBand', '--testTimeout=350', 'budgets'), project.dir);
    assert.strictEqual(r.code, 1, r.stderr);
    const set = results(report(project), 'set-timeout.test.js').get('loops')!.failureMessages[0];
    assert.match(set, /^Error: Exceeded timeout of 250 ms for a test\./);
    assert.match(set, /at loopsForever \(.*set-timeout\.test\.js:2:\d+\)/);
    const config = results(report(project), 'config.test.js').get('loops')!.failureMessages[0];
    assert.match(config, /^Error: Exceeded timeout of 350 ms for a test\./);
  });

  it('jest.retryTimes: every attempt of a test stops at its timeout, also after a failed beforeEach', async () => {
    const r = await runNode(jest('--runInBand', 'retry'), project.dir);
    assert.strictEqual(r.code, 1, r.stderr);
    const t = results(report(project), 'retry.test.js');
    assert.deepStrictEqual([...t].map(([name, a]) => `${a.status} ${name}`).sort(), [
      'failed loops on every attempt', 'passed a beforeEach that fails once runs on the retry', 'passed after', 'passed loops on its first attempt only']);
    // Two attempts each (the run ended: each attempt of the one that always loops was stopped).
    assert.deepStrictEqual(['loops on its first attempt only', 'a beforeEach that fails once runs on the retry', 'loops on every attempt'].map((n) => t.get(n)!.invocations), [2, 2, 2]);
    const always = t.get('loops on every attempt')!.failureMessages[0];
    assert.match(always, /^Error: Exceeded timeout of 200 ms for a test\.[\s\S]*?\n\s+at loopsAlways \(.*retry\.test\.js:11:\d+\)/, always);
  });

  it('tests that finish (pass, fail, async and done timeouts) report exactly as with jest-environment-node', async () => {
    const summary = (rep: JsonReport) => [...results(rep, 'normal.test.js')].map(([name, a]) => `${a.status} ${name}: ${a.failureMessages.map((m) => m.split('\n')[0]).join('|')}`).sort();
    const plugged = await runNode(jest('--runInBand', 'normal.test.js'), project.dir);
    const withPlugin = summary(report(project));
    const plain = await runNode(jest('--runInBand', '--config', 'plain.config.js', 'normal.test.js'), project.dir);
    assert.deepStrictEqual(withPlugin, summary(report(project)));
    assert.deepStrictEqual([plugged.code, plain.code], [1, 1]);
    assert.ok(withPlugin.some((l) => l.startsWith('failed async times out: Error: thrown: "Exceeded timeout of 150 ms for a test.')), withPlugin.join('\n'));
  });

  for (const [mode, flags] of MODES) {
    it(`${mode}: a test blocked in a system call past its timeout + grace fails the run loudly, naming it and where it is stuck`, async () => {
      const r = await runNode(jest(...flags, 'blocked', 'loop.test.js'), project.dir, { THREAD_KILL_STUCK_GRACE_MS: '500', TK_WHERE: '/dev/null' });
      assert.notStrictEqual(r.code, 0);
      assert.match(r.stderr, /thread-kill: jest test "blocked\/blocked\.test\.js › blocked in a system call" ran past its 300 ms timeout and could not be stopped within 500 ms more: it never got back to JavaScript: it is blocked in native code or a system call/, r.stderr);
      assert.ok(r.ms < 25_000, `the run ended by itself, long before the sleep (${r.ms} ms)`);
    });
  }

  it('a hook blocked in a system call is named as a hook of its describe block', async () => {
    const r = await runNode(jest('--runInBand', 'stuck-hook'), project.dir, { THREAD_KILL_STUCK_GRACE_MS: '500' });
    assert.notStrictEqual(r.code, 0);
    assert.match(r.stderr, /thread-kill: jest hook "stuck-hook\/hook\.test\.js › suite › beforeEach hook" ran past its 300 ms timeout and could not be stopped within 500 ms more/, r.stderr);
  });
});
