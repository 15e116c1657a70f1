// thread-kill/node-test under the real `node --test`: which timeout stops a
// stuck synchronous test — its own, a t.test() subtest's, one inherited from
// describe()/suite() or a parent test, the runner's --test-timeout — and the
// package's default export and types. Each fixture (test/fixtures/node-test/) runs in a
// child process; the assertions read its TAP report and exit code.
import * as assert from 'assert';
import * as path from 'path';
import { ROOT, runNode } from './helpers';

const FIXTURES = path.join(ROOT, 'test', 'fixtures', 'node-test');
const TSC = require.resolve('typescript/bin/tsc');
const NODE_MAJOR = Number(process.versions.node.split('.')[0]);

interface Run { code: number | null; stdout: string; stderr: string }

function nodeTest(args: string[], env: Record<string, string> = {}): Promise<Run> {
  return runNode(args, FIXTURES, { env });
}

interface Result { ok: boolean; error: string; details: string }

/** Each reported test by name: ok or not, its `error:` and its whole YAML block. */
function results(tap: string): Map<string, Result> {
  const out = new Map<string, Result>();
  const lines = tap.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const m = /^\s*(not )?ok \d+ - (.*?)(?: # (?:SKIP|TODO).*)?$/.exec(lines[i]);
    if (!m) continue;
    const block: string[] = [];
    if (/^\s*---$/.test(lines[i + 1] ?? '')) {
      for (i += 2; i < lines.length && !/^\s*\.\.\.$/.test(lines[i]); i++) block.push(lines[i]);
    }
    const details = block.join('\n');
    const error = /^\s*error: '(.*)'$/m.exec(details)?.[1] ?? '';
    out.set(m[2], { ok: !m[1], error, details });
  }
  return out;
}

type Expected = true | readonly [string, RegExp];

function expectResults(run: Run, expected: Record<string, Expected>): void {
  const got = results(run.stdout);
  const report = `\n--- stdout\n${run.stdout}\n--- stderr\n${run.stderr}`;
  for (const [name, want] of Object.entries(expected)) {
    const r = got.get(name);
    assert.ok(r, `"${name}" was not reported${report}`);
    if (want === true) {
      assert.ok(r.ok, `"${name}" failed: ${r.error}${report}`);
    } else {
      // Failed with that error, and the stack shows where it was looping.
      assert.ok(!r.ok, `"${name}" passed${report}`);
      assert.match(r.details, new RegExp(want[0].replace(/[.*+?^${}()|[\]\\]/g, '\\$&')), `"${name}"${report}`);
      assert.match(r.details, want[1], `"${name}": no loop in the stack${report}`);
    }
  }
  assert.strictEqual(run.code, 1, report);
}

describe('thread-kill/node-test: which timeout stops a stuck test', function () {
  // Child runs on a busy machine: a timeout here is a hang, never a slow run.
  this.timeout(120_000);

  it('a t.test() subtest (and a t.beforeEach hook) with its own timeout, in a parent test without one; one inheriting it; callback style', async () => {
    const run = await nodeTest(['--test', '--test-reporter', 'tap', 'subtest.js']);
    expectResults(run, {
      'subtest loops': ['test timed out after 200ms', /subtestLoops \(.*subtest\.js:5:/],
      'subtest after the loop': true,
      'subtest after a stuck hook': ['hook timed out after 150ms', /subtestHookLoops \(.*subtest\.js:9:/],
      'top-level test after them': true,
      'grandchild inherits': ['test timed out after 250ms', /grandchildLoops \(.*subtest\.js:16:/],
      'callback subtest': ['test timed out after 150ms', /callbackLoops \(.*subtest\.js:18:/],
      'callback subtest in time': true,
      'subtest not awaited': true,
    });
  });

  it('a test or hook inheriting its timeout from describe()/suite(), however nested, also after an await in an async suite, or from the test that made it', async () => {
    const run = await nodeTest(['--test', '--test-reporter', 'tap', 'describe.js']);
    expectResults(run, {
      'fine in the suite': true,
      'inherits the suite timeout': ['test timed out after 200ms', /inheritsLoop \(.*describe\.js:6:/],
      'inherits through nested suites': ['test timed out after 250ms', /nestedLoop \(.*describe\.js:11:/],
      'inherits the nearest timeout': ['test timed out after 150ms', /nearestLoop \(.*describe\.js:17:/],
      'after a stuck hook': ['hook timed out after 180ms', /suiteHookLoops \(.*describe\.js:21:/],
      'subtest made with test()': ['test timed out after 220ms', /innerLoop \(.*describe\.js:26:/],
      'still passes': true,
      'made after an await in the suite': ['test timed out after 200ms', /afterAwaitLoop \(.*describe\.js:34:/],
    });
  });

  const perTest = {
    'before the loop': true,
    'loops at the default timeout': ['test timed out after 300ms', /defaultLoop \(.*default-timeout\.js:5:/],
    'after the loop': true,
    'its own timeout wins': ['test timed out after 120ms', /ownLoop \(.*default-timeout\.js:7:/],
    'before the loop in the suite': true,
    'loops in a suite at the default timeout': ['test timed out after 300ms', /suiteDefaultLoop \(.*default-timeout\.js:11:/],
  } as const;

  if (NODE_MAJOR >= 24) {
    it('--test-timeout: every test\'s default timeout (Node 24+), and the file\'s other tests still report', async () => {
      expectResults(await nodeTest(['--test', '--test-timeout=300', '--test-reporter', 'tap', 'default-timeout.js']), perTest);
    });

    it('--test-timeout without --test, as two arguments, with --test-isolation=none, and run({ timeout }) (Node 24+)', async () => {
      expectResults(await nodeTest(['--test-timeout', '300', '--test-reporter', 'tap', 'default-timeout.js']), perTest);
      expectResults(await nodeTest(['--test', '--test-isolation=none', '--test-timeout=300', '--test-reporter', 'tap', 'default-timeout.js']), perTest);
      expectResults(await nodeTest(['run-api.mjs']), perTest);
    });
  } else {
    it('--test-timeout: Node 20 and 22 apply it to each file as a whole, in the runner (the plugin, in the file\'s process, does not change that)', async () => {
      const run = await nodeTest(['--test', '--test-timeout=300', '--test-reporter', 'tap', 'default-timeout.js']);
      const file = [...results(run.stdout)].find(([name]) => name.endsWith('default-timeout.js'));
      assert.ok(file && !file[1].ok && file[1].error === 'test timed out after 300ms', run.stdout);
      assert.ok(!results(run.stdout).has('after the loop'), run.stdout);
      assert.strictEqual(run.code, 1);
    });

    it('--test-timeout without --test: no per-test timeout before Node 24, with the plugin as without it', async () => {
      // Only a test's own timeout applies: the loop with one stops, the rest of the file runs.
      const run = await nodeTest(['--test-timeout=300', '--test-reporter', 'tap', '--test-name-pattern', 'own|before', 'default-timeout.js']);
      expectResults(run, { 'before the loop': true, 'its own timeout wins': perTest['its own timeout wins'], 'before the loop in the suite': true });
    });
  }
});

describe('thread-kill/node-test: tests that finish in time', function () {
  this.timeout(120_000);

  const runs: Array<[string, string[]]> = [['node --test', ['--test']]];
  if (NODE_MAJOR >= 24) runs.push(['node --test --test-timeout', ['--test', '--test-timeout=5000']]);
  for (const [title, flags] of runs) {
    it(`report exactly as with node:test (${title}): suites, hooks, awaited subtests, callbacks, failures, node:test's own timeout`, async () => {
      const args = [...flags, '--test-reporter', 'tap', 'in-time.js'];
      const [plugged, plain] = await Promise.all([
        nodeTest(args, { NODE_TEST_FROM: 'thread-kill/node-test' }),
        nodeTest(args, { NODE_TEST_FROM: 'node:test' }),
      ]);
      const report = (r: Run) => [...results(r.stdout)].map(([name, { ok, error }]) => `${ok ? 'ok' : 'not ok'} ${name} ${error}`);
      assert.ok(report(plain).length >= 18, plain.stdout + plain.stderr);
      assert.deepStrictEqual(report(plugged), report(plain));
      assert.deepStrictEqual([plugged.code, plain.code], [1, 1]);
    });
  }
});

describe('thread-kill/node-test: the default export', function () {
  this.timeout(120_000);

  it('is node:test\'s test(), with its properties, imported from ESM and required from CommonJS', async () => {
    const run = await nodeTest(['--test', '--test-reporter', 'tap', 'default-export.mjs', 'default-export.cjs']);
    expectResults(run, {
      'default export, ESM': ['test timed out after 150ms', /esmDefaultLoop \(.*default-export\.mjs:16:/],
      'default export skip, ESM': true,
      'default export passes, ESM': true,
      'default export, CJS': ['test timed out after 150ms', /cjsDefaultLoop \(.*default-export\.cjs:14:/],
      'module.exports passes, CJS': true,
    });
  });

  it('is typed as node:test is, default export included, in ES modules and CommonJS (tsc, module node16)', async () => {
    const run = await nodeTest([TSC, '-p', 'types']);
    assert.strictEqual(run.code, 0, run.stdout + run.stderr);
  });
});
