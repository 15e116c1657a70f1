// node --test --import thread-kill/node-test: test files that import or
// require 'node:test' — unchanged — get timeouts that stop synchronous code,
// and their failures are reported at the user's file and line. Run as a user
// runs it: a child `node --test` in an app whose node_modules holds the package.
import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { ROOT, runNode } from './helpers';

interface Run { code: number | null; stdout: string; stderr: string }

function node(args: string[], cwd: string): Promise<Run> {
  return runNode(args, cwd);
}

const FILES: Record<string, string> = {
  'named.test.mjs': `import { test, describe, it } from 'node:test';
test('fine', () => {});
test('loops', { timeout: 200 }, function loopsNamed() { for (;;) {} });
describe('suite', () => {
  it('nested loop', { timeout: 150 }, function nestedLoop() { for (;;) {} });
  it('after the loop', () => {});
});
`,
  'default.test.mjs': `import test from 'node:test';
test('fine', () => {});
test('loops', { timeout: 200 }, function loopsDefault() { for (;;) {} });
test('parent without a timeout', async (t) => {
  await t.test('subtest loop', { timeout: 100 }, function subtestLoop() { for (;;) {} });
});
`,
  'require.test.js': `const test = require('node:test');
const { it } = require('node:test');
test('fine', () => {});
test('loops', { timeout: 200 }, function loopsRequire() { for (;;) {} });
it('fails an assertion', () => { require('assert').strictEqual(1, 2); });
`,
};

describe('node --test --import thread-kill/node-test (test files unchanged)', () => {
  let app: string;
  before(() => {
    app = fs.mkdtempSync(path.join(os.tmpdir(), 'tk-node-test-'));
    fs.mkdirSync(path.join(app, 'node_modules'));
    fs.symlinkSync(ROOT, path.join(app, 'node_modules', 'thread-kill'), 'dir');
    for (const [name, text] of Object.entries(FILES)) fs.writeFileSync(path.join(app, name), text);
  });
  after(() => fs.rmSync(app, { recursive: true, force: true }));

  it('named, default and require() forms: each loop fails at its timeout, at the user\'s file and line; the rest reports as usual', async function () {
    this.timeout(120_000);
    const r = await node(['--test', '--import', 'thread-kill/node-test', '--test-reporter', 'tap'], app);
    const out = `exit ${r.code}\n${r.stdout}\n${r.stderr}`;
    // Each failing test: [file, name, line of its test() call, the timeout in its error].
    const expected: Array<[string, string, number, number | undefined]> = [
      ['named.test.mjs', 'loops', 3, 200], ['named.test.mjs', 'nested loop', 5, 150],
      ['default.test.mjs', 'loops', 3, 200], ['default.test.mjs', 'subtest loop', 5, 100],
      ['require.test.js', 'loops', 4, 200], ['require.test.js', 'fails an assertion', 5, undefined],
    ];
    // TAP: each result is an "(not) ok N - name" line and the YAML under it.
    const blocks: Array<{ head: string; body: string }> = [];
    for (const l of r.stdout.split('\n')) {
      if (/^\s*(not )?ok \d+ - /.test(l)) blocks.push({ head: l.trim(), body: '' });
      else if (blocks.length > 0) blocks[blocks.length - 1].body += `${l}\n`;
    }
    const escape = (t: string): string => t.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    for (const [file, name, line, ms] of expected) {
      const mine = blocks.filter((b) => new RegExp(`^not ok \\d+ - ${escape(name)}$`).test(b.head) && b.body.includes(`/${file}:`));
      assert.strictEqual(mine.length, 1, `${file}: '${name}' failed once\n${out}`);
      assert.match(mine[0].body, new RegExp(`location: '(file://)?${escape(app)}/${escape(file)}:${line}:\\d+'`), `${file} '${name}': location\n${mine[0].body}`);
      if (ms !== undefined) assert.match(mine[0].body, new RegExp(`error: 'test timed out after ${ms}ms'`), mine[0].body);
    }
    for (const name of ['fine', 'after the loop']) {
      const mine = blocks.filter((b) => b.head.endsWith(` - ${name}`));
      assert.ok(mine.length > 0 && mine.every((b) => b.head.startsWith('ok ')), `'${name}' passes\n${out}`);
    }
    // The stack of a stopped loop starts in the user's function.
    assert.match(r.stdout, /loopsRequire \(.*require\.test\.js:4:/);
    assert.strictEqual(r.code, 1, out);
  });

  it('loaded where it cannot replace node:test (no module hooks in this Node), it says so and fails', async () => {
    const r = await node(['-e', `const m = require('module'); m.registerHooks = undefined; m.register = undefined;
      require(${JSON.stringify(path.join(ROOT, 'lib', 'node-test.js'))});`], app);
    assert.notStrictEqual(r.code, 0);
    assert.match(r.stderr, /thread-kill\/node-test: Node\.js v[\d.]+ has neither module\.registerHooks\(\) nor module\.register\(\)/);
  });
});
