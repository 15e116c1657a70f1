// node-test.mjs: run with `node examples/node-test.mjs` (or `node --test`)
import { test, it, describe } from 'thread-kill/node-test';   // instead of 'node:test'
import assert from 'node:assert';

describe('timeouts that stop synchronous code', () => {
  it('finishes in time', { timeout: 1000 }, () => assert.strictEqual(1 + 1, 2));
  // Marked todo so this file exits 0: without thread-kill this test would hang the run forever.
  test('is stopped at its timeout, with the loop in its stack', { timeout: 200, todo: 'a loop that never ends' }, () => {
    for (;;) {}
  });
});
