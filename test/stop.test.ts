import * as assert from 'assert';
import * as tk from 'thread-kill';
import { FIXTURE_ADDON, SiblingKiller, fixturePath, fixtureWorker, hang } from './helpers';

/** Fixture test/fixtures/workers/stop.ts, program `name`. */
const worker = (name: string, data: Record<string, unknown> = {}) => fixtureWorker('stop', { case: name, ...data });

describe('StopToken', () => {
  it('stops once, keeps the first reason, and throws a typed StoppedError', () => {
    const t = new tk.StopToken();
    assert.strictEqual(t.stopped, false);
    assert.strictEqual(t.reason, undefined);
    t.throwIfStopped();
    assert.strictEqual(t.stop({ why: 'first' }), true);
    assert.strictEqual(t.stop('second'), false);
    assert.strictEqual(t.stopped, true);
    assert.deepStrictEqual(t.reason, { why: 'first' });
    assert.throws(() => t.throwIfStopped(), { name: 'StoppedError', code: 'ERR_THREAD_STOPPED' });
    assert.strictEqual(t.signal.aborted, true);
    assert.strictEqual(t.wait(10_000), true, 'returns at once when stopped');
  });

  it('is the same token in another thread (workerData), which wakes from wait() when stopped here', async () => {
    const token = new tk.StopToken();
    const { next, exited } = worker('wait', { token });
    assert.strictEqual(await next(), 'waiting');
    token.stop('from main');
    assert.deepStrictEqual(await next(), { stopped: true, reason: 'from main' });
    await exited;
  });

  it("aborts the reading thread's AbortSignal when another thread stops it", async () => {
    const token = new tk.StopToken();
    const { next, exited } = worker('signal', { buffer: token.buffer });
    assert.strictEqual(await next(), 'listening');
    token.stop('go');
    assert.deepStrictEqual(await next(), { aborted: true, reason: 'go' });
    await exited;
  });

  it('sleep() returns early (true) when stopped, and false at its timeout', async () => {
    const token = new tk.StopToken();
    assert.strictEqual(await token.sleep(1), false);
    assert.strictEqual(token.wait(1), false);
    const sleeping = token.sleep(60_000);
    token.stop();
    assert.strictEqual(await sleeping, true);
  });

  it('a C loop in an addon polls the token and stops within one poll (fixture addon)', async () => {
    const token = new tk.StopToken();
    const { next, exited } = worker('addon-poll', { addon: FIXTURE_ADDON, buffer: token.buffer });
    assert.strictEqual(await next(), 'polling');
    token.stop();
    assert.strictEqual(await next(), true);
    await exited;
  });

  it('stop() from a sibling reaches the thread\'s own token (threadStopToken)', async () => {
    const sibling = new SiblingKiller();
    try {
      const h = hang('busy-loop', { mode: 'stop' });
      await h.ready;
      assert.strictEqual(await sibling.run('stop', h.threadId, { reason: 'sib' }), true);
      assert.deepStrictEqual(await h.next('stopped'), { kind: 'stopped', reason: 'sib' });
      assert.strictEqual(await h.exited, 0);
    } finally {
      await sibling.close();
    }
  });

  it('rejects buffers that are not a token', () => {
    assert.throws(() => new tk.StopToken(new ArrayBuffer(16) as never), { code: 'ERR_THREAD_KILL_INVALID_ARG_TYPE' });
    assert.throws(() => tk.StopToken.from({}), { code: 'ERR_THREAD_KILL_INVALID_ARG_TYPE' });
    assert.throws(() => new tk.StopToken().stop('x'.repeat(5000)), { code: 'ERR_THREAD_KILL_OUT_OF_RANGE' });
  });
});

describe('KillableWorker stop() and join()', () => {
  it('stop() stops the thread cooperatively and join() resolves when it has exited', async () => {
    const w = new tk.KillableWorker(fixturePath('stop'), { workerData: { case: 'thread-token' } });
    await new Promise((resolve) => w.once('message', resolve));
    assert.strictEqual(w.stop('bye'), true);
    assert.strictEqual(await w.join(), true);
    assert.strictEqual(await w.join(0), true, 'join after exit resolves at once');
  });

  it('join(timeoutMs) resolves false while the thread still runs', async () => {
    const w = new tk.KillableWorker('for (;;) {}', { eval: true });
    assert.strictEqual(await w.join(20), false);
    await w.kill();
    assert.strictEqual(await w.join(), true);
  });
});
