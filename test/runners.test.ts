// Test-runner timeouts that work for synchronous code: the real mocha (main
// process and --parallel) and the real node:test, each in a child process.
import * as assert from 'assert';
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { ROOT } from './helpers';

const MOCHA = require.resolve('mocha/bin/mocha.js');
const PLUGIN = path.join(ROOT, 'lib', 'mocha.js');
const NODE_TEST = path.join(ROOT, 'lib', 'node-test.js');

function run(args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    p.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    // Only a safety net: a run that hangs is exactly the bug under test.
    const deadline = setTimeout(() => p.kill('SIGKILL'), 60_000);
    p.once('close', (code) => { clearTimeout(deadline); resolve({ code, stdout, stderr }); });
  });
}

const SPECS = {
  'stuck.spec.js': `
    describe('stuck', function () {
      it('finishes in time', function () {});
      it('loops forever', function loopsForever() { this.timeout(200); for (;;) {} });
      it('after the loop', function () {});
    });
    describe('stuck hook', function () {
      beforeEach(function stuckHook() { for (;;) {} });
      it('never runs', function () {});
    });
    describe('disabled', function () {
      it('timeout 0 lets a long synchronous test finish', function () { this.timeout(0); const end = Date.now() + 400; while (Date.now() < end); });
    });`,
  'normal.spec.js': `
    const assert = require('assert');
    describe('normal', function () {
      it('passes', function () { assert.ok(true); });
      it('fails an assertion', function () { assert.strictEqual(1, 2); });
      it('async times out', async function () { this.timeout(100); await new Promise(() => {}); });
      it('callback style', function (done) { setTimeout(done, 5); });
      it('is slow but in time', function () { this.timeout(2000); const end = Date.now() + 50; while (Date.now() < end); });
    });`,
};

interface JsonTest { fullTitle: string; err: { message?: string; stack?: string } }
interface JsonReport { passes: JsonTest[]; failures: JsonTest[] }

function summary(r: JsonReport): string[] {
  return [...r.passes.map((t) => `pass ${t.fullTitle}`), ...r.failures.map((t) => `fail ${t.fullTitle}: ${t.err.message}`)].sort();
}

describe('test-runner timeouts', () => {
  let dir: string;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tk-runners-'));
    for (const [name, content] of Object.entries(SPECS)) fs.writeFileSync(path.join(dir, name), content);
  });

  for (const parallel of [false, true]) {
    const mode = parallel ? 'mocha --parallel' : 'mocha';
    const extra = parallel ? ['--parallel', '--jobs', '2'] : [];

    it(`${mode} --require thread-kill/mocha: stuck synchronous tests and hooks fail with mocha's timeout error and the loop's stack; the run goes on`, async function () {
      this.timeout(120_000);
      const r = await run([MOCHA, '--no-config', '--reporter', 'json', '--timeout', '300', '--require', PLUGIN, ...extra, 'stuck.spec.js'], dir);
      const report = JSON.parse(r.stdout) as JsonReport;
      assert.deepStrictEqual(report.passes.map((t) => t.fullTitle).sort(),
        ['disabled timeout 0 lets a long synchronous test finish', 'stuck after the loop', 'stuck finishes in time']);
      const failures = new Map(report.failures.map((t) => [t.fullTitle, t.err]));
      assert.deepStrictEqual([...failures.keys()].sort(), ['stuck hook "before each" hook: stuckHook for "never runs"', 'stuck loops forever']);
      const loop = failures.get('stuck loops forever')!;
      assert.match(loop.message!, /^Timeout of 200ms exceeded\./);
      assert.match(loop.stack!, /\n\s+at (Context\.)?loopsForever \(.*stuck\.spec\.js:4:/);
      const hook = failures.get('stuck hook "before each" hook: stuckHook for "never runs"')!;
      assert.match(hook.message!, /^Timeout of 300ms exceeded\./);
      assert.match(hook.stack!, /\n\s+at (Context\.)?stuckHook \(.*stuck\.spec\.js:8:/);
      assert.strictEqual(r.code, 2, r.stderr);
    });

    it(`${mode}: tests that finish in time report exactly as without the plugin`, async function () {
      this.timeout(120_000);
      const args = [MOCHA, '--no-config', '--reporter', 'json', ...extra, 'normal.spec.js'];
      const [plain, plugged] = await Promise.all([run(args, dir), run([...args, '--require', PLUGIN], dir)]);
      assert.deepStrictEqual(summary(JSON.parse(plugged.stdout)), summary(JSON.parse(plain.stdout)));
      assert.deepStrictEqual([plugged.code, plain.code], [2, 2]);
    });
  }

  it('mocha --require thread-kill/mocha: a test blocked in a system call past its timeout + grace fails the run loudly (the watchdog); one that raised its own timeout is left alone', async function () {
    this.timeout(120_000);
    fs.writeFileSync(path.join(dir, 'blocked.spec.js'), `
      describe('blocked', function () {
        it('raised its timeout', function () { this.timeout(300); this.timeout(5000); const end = Date.now() + 1200; while (Date.now() < end); });
        it('in a system call', function () { this.timeout(300); require('child_process').execSync('sleep 30'); });
      });`);
    const t0 = performance.now();
    const r = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const p = spawn(process.execPath, [MOCHA, '--no-config', '--reporter', 'dot', '--require', PLUGIN, 'blocked.spec.js'],
        { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, THREAD_KILL_RUNNER_GRACE_MS: '500' } });
      let stderr = '';
      p.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
      const limit = setTimeout(() => p.kill('SIGKILL'), 60_000);
      p.once('close', (code) => { clearTimeout(limit); resolve({ code, stderr }); });
    });
    assert.strictEqual(r.code, 70, r.stderr);
    assert.doesNotMatch(r.stderr, /raised its timeout/);
    assert.match(r.stderr, /thread-kill\/mocha: TEST STUCK — "blocked in a system call" has been running for at least \d+ ms, past its timeout of 300 ms plus 500 ms of grace/);
    assert.match(r.stderr, /waiting for child processes \d+ \(\/bin\/sh -c sleep 30\)/);
    assert.ok(performance.now() - t0 < 25_000);
  });

  it('node --test with thread-kill/node-test: a test blocked in a system call past its timeout + grace fails the run loudly (the watchdog)', async function () {
    this.timeout(120_000);
    fs.writeFileSync(path.join(dir, 'blocked.test.js'), `
      const { test } = require(${JSON.stringify(NODE_TEST)});
      test('passes', { timeout: 1000 }, () => {});
      test('in a system call', { timeout: 300 }, () => { require('child_process').execSync('sleep 30'); });`);
    const t0 = performance.now();
    const r = await run(['--test', '--test-reporter', 'tap', 'blocked.test.js'], dir, { THREAD_KILL_RUNNER_GRACE_MS: '500' });
    assert.strictEqual(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stdout + r.stderr, /thread-kill\/node-test: TEST STUCK — "blocked\.test\.js › in a system call" has been running for at least \d+ ms, past its timeout of 300 ms plus 500 ms of grace/);
    assert.match(r.stdout + r.stderr, /waiting for child processes \d+ \(\/bin\/sh -c sleep 30\)/);
    assert.ok(performance.now() - t0 < 25_000);
  });

  it('THREAD_KILL_RUNNER_GRACE_MS: a bad value fails loading the plugin with a clear typed error', async () => {
    for (const plugin of ['mocha.js', 'jest.js']) {
      const r = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
        const p = spawn(process.execPath, ['-e', `try { require(${JSON.stringify(path.join(ROOT, 'lib', plugin))}); } catch (e) { console.error(e.code, e.message); process.exit(3); }`],
          { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, THREAD_KILL_RUNNER_GRACE_MS: '2s' } });
        let stderr = '';
        p.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
        p.once('close', (code) => resolve({ code, stderr }));
      });
      assert.strictEqual(r.code, 3, r.stderr);
      assert.match(r.stderr, /^ERR_THREAD_KILL_OUT_OF_RANGE THREAD_KILL_RUNNER_GRACE_MS must be an integer number of ms from 0 to 3600000 \(got "2s"\)/);
    }
  });

  it('node --test with thread-kill/node-test: a stuck synchronous test fails with its timeout and stack; the others report as with node:test', async function () {
    this.timeout(120_000);
    const file = (from: string) => `
      const assert = require('assert');
      const { test, describe, it } = require(${JSON.stringify(from)});
      test('finishes in time', { timeout: 1000 }, () => { assert.ok(true); });
      ${from === 'node:test' ? '' : "test('loops forever', { timeout: 200 }, function loopsForever() { for (;;) {} });"}
      test('fails an assertion', () => { assert.strictEqual(1, 2); });
      test('async times out', { timeout: 100 }, async () => { await new Promise((r) => setTimeout(r, 1500)); });
      describe('suite', () => {
        ${from === 'node:test' ? '' : "it('nested loop', { timeout: 150 }, function nestedLoop() { for (;;) {} });"}
        it('fine', () => {});
      });`;
    fs.writeFileSync(path.join(dir, 'plugged.test.js'), file(NODE_TEST));
    fs.writeFileSync(path.join(dir, 'plain.test.js'), file('node:test'));
    const [plugged, plain] = await Promise.all([
      run(['--test', '--test-reporter', 'tap', 'plugged.test.js'], dir),
      run(['--test', '--test-reporter', 'tap', 'plain.test.js'], dir),
    ]);
    const results = (tap: string) => tap.split('\n').filter((l) => /^\s*(not )?ok \d+ - /.test(l)).map((l) => l.trim().replace(/ \d+ - /, ' - '));
    const pluggedResults = results(plugged.stdout);
    // The same, but for the stuck tests (and the suite holding one, which fails with it).
    const same = (l: string) => !/loop|suite/.test(l);
    assert.deepStrictEqual(pluggedResults.filter(same), results(plain.stdout).filter(same));
    assert.ok(pluggedResults.includes('not ok - suite') && results(plain.stdout).includes('ok - suite'));
    assert.ok(pluggedResults.includes('not ok - loops forever'), plugged.stdout);
    assert.ok(pluggedResults.includes('not ok - nested loop'), plugged.stdout);
    assert.match(plugged.stdout, /error: 'test timed out after 200ms'[\s\S]*?loopsForever \(.*plugged\.test\.js:5:/);
    assert.match(plugged.stdout, /error: 'test timed out after 150ms'[\s\S]*?nestedLoop \(.*plugged\.test\.js:/);
    assert.deepStrictEqual([plugged.code, plain.code], [1, 1]);
  });
});
