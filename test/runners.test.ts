// Test-runner timeouts that work for synchronous code: the real mocha (main
// process and --parallel) and the real node:test, each in a child process.
import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { NodeRun, ROOT, runNode } from './helpers';

const MOCHA = require.resolve('mocha/bin/mocha.js');
const PLUGIN = path.join(ROOT, 'lib', 'mocha.js');
const NODE_TEST = path.join(ROOT, 'lib', 'node-test.js');

function run(args: string[], cwd: string): Promise<NodeRun> {
  return runNode(args, cwd, { deadlineMs: 60_000 });
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
      // Not mocha's "ensure done() is called…": what happened, and where.
      assert.match(loop.message!, /^Timeout of 200ms exceeded\. Synchronous code ran past the timeout and was stopped at (Context\.)?loopsForever \(.*stuck\.spec\.js:4:\d+\)\.$/);
      assert.match(loop.stack!, /\n\s+at (Context\.)?loopsForever \(.*stuck\.spec\.js:4:/);
      const hook = failures.get('stuck hook "before each" hook: stuckHook for "never runs"')!;
      assert.match(hook.message!, /^Timeout of 300ms exceeded\. Synchronous code ran past the timeout and was stopped at (Context\.)?stuckHook \(.*stuck\.spec\.js:8:\d+\)\.$/);
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
