import * as assert from 'assert';
import * as path from 'path';
import { Piscina } from 'piscina';
import { InterruptedError } from 'thread-kill';
import { runInterruptible } from 'thread-kill/piscina';
import { ROOT } from './helpers';

describe('thread-kill/piscina', () => {
  it('cancels a runaway task in place: the next task runs on the same thread, no worker respawned', async () => {
    const pool = new Piscina({ filename: path.join(ROOT, 'test', 'fixtures', 'piscina-worker.js'), minThreads: 1, maxThreads: 1 });
    try {
      const first = await runInterruptible<{ threadId: number; value: number }>(pool, { value: 1 });
      assert.strictEqual(first.value, 2);
      const worker = pool.threads[0];
      let created = 0;
      pool.on('workerCreate', () => { created++; });
      const ac = new AbortController();
      const started = new Int32Array(new SharedArrayBuffer(4));
      const runaway = runInterruptible(pool, { runaway: true, started: started.buffer }, { signal: ac.signal });
      // Abort once the task is running (its region is what gets interrupted).
      const w = Atomics.waitAsync(started, 0, 0);
      if (w.async) await w.value;
      ac.abort('too slow');
      await assert.rejects(runaway, (err: unknown) => {
        assert.ok(err instanceof InterruptedError);
        assert.strictEqual(err.code, 'ERR_THREAD_INTERRUPTED');
        assert.strictEqual(err.reason, 'too slow');
        return true;
      });
      const next = await runInterruptible<{ threadId: number; value: number }>(pool, { value: 21 });
      assert.deepStrictEqual(next, { threadId: first.threadId, value: 42 });
      assert.strictEqual(pool.threads.length, 1);
      assert.strictEqual(pool.threads[0], worker, 'the same Worker object: nothing was respawned');
      assert.strictEqual(created, 0);
    } finally {
      await pool.destroy();
    }
  });

  it('a task cancelled before it starts never runs', async () => {
    const pool = new Piscina({ filename: path.join(ROOT, 'test', 'fixtures', 'piscina-worker.js'), minThreads: 1, maxThreads: 1 });
    try {
      const ac = new AbortController();
      const blocker = new AbortController();
      const busy = runInterruptible(pool, { runaway: true }, { signal: blocker.signal });
      const queued = runInterruptible(pool, { value: 1 }, { signal: ac.signal });
      ac.abort('never mind');
      await new Promise((resolve) => setImmediate(resolve));
      blocker.abort('stop');
      await assert.rejects(busy, InterruptedError);
      await assert.rejects(queued, (err: unknown) => err instanceof InterruptedError && err.reason === 'never mind');
    } finally {
      await pool.destroy();
    }
  });
});
