import * as assert from 'assert';
import * as path from 'path';
import { Piscina } from 'piscina';
import { InterruptedError } from 'thread-kill';
import { runInterruptible } from 'thread-kill/piscina';
import { ROOT } from './helpers';

const fixture = (name: string) => path.join(ROOT, 'test', 'fixtures', name);

interface Pool { run(task: unknown, options?: Record<string, unknown>): Promise<unknown> }

/** Runs a task, then a runaway one cancelled in place, then another: resolves with both good results. */
async function cancelInPlace(pool: Pool, reason = 'too slow'): Promise<{ first: { threadId: number; value: number }; next: { threadId: number; value: number } }> {
  const first = await runInterruptible<{ threadId: number; value: number }>(pool, { value: 1 });
  assert.strictEqual(first.value, 2);
  const ac = new AbortController();
  const started = new Int32Array(new SharedArrayBuffer(4));
  const runaway = runInterruptible(pool, { runaway: true, started: started.buffer }, { signal: ac.signal });
  // Abort once the task is running (its region is what gets interrupted).
  const w = Atomics.waitAsync(started, 0, 0);
  if (w.async) await w.value;
  ac.abort(reason);
  await assert.rejects(runaway, (err: unknown) => {
    assert.ok(err instanceof InterruptedError);
    assert.strictEqual(err.code, 'ERR_THREAD_INTERRUPTED');
    assert.strictEqual(err.reason, reason);
    // Where the task was stopped, in the worker: its interruptedStack, and its
    // stack too (this thread's await machinery would tell nothing).
    assert.match(err.interruptedStack, /worker\.js:\d+:\d+/);
    assert.ok(err.stack!.startsWith(`InterruptedError: ${err.message}\n    at `), err.stack);
    assert.match(err.stack!, /worker\.js:\d+:\d+/);
    return true;
  });
  const next = await runInterruptible<{ threadId: number; value: number }>(pool, { value: 21 });
  return { first, next };
}

describe('thread-kill/piscina', () => {
  it('cancels a runaway task in place: the next task runs on the same thread, no worker respawned', async () => {
    const pool = new Piscina({ filename: path.join(ROOT, 'test', 'fixtures', 'piscina-worker.js'), minThreads: 1, maxThreads: 1 });
    try {
      await pool.run({ value: 0 }); // its worker exists
      const worker = pool.threads[0];
      let created = 0;
      pool.on('workerCreate', () => { created++; });
      const { first, next } = await cancelInPlace(pool);
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

  it('passes every other run() option through (transferList), never the signal', async () => {
    const pool = new Piscina({ filename: fixture('transfer-pool-worker.js'), minThreads: 1, maxThreads: 1 });
    try {
      const buf = new Uint8Array([7]).buffer;
      const ac = new AbortController();
      assert.strictEqual(await runInterruptible(pool, { buf }, { transferList: [buf], signal: ac.signal }), 7);
      assert.strictEqual(buf.byteLength, 0, 'transferred, not copied');
    } finally {
      await pool.destroy();
    }
  });

  it('a worker that forgot interruptibleTask() fails the task with a clear error', async () => {
    const pool = new Piscina({ filename: fixture('plain-pool-worker.js'), minThreads: 1, maxThreads: 1 });
    try {
      await assert.rejects(runInterruptible(pool, { value: 1 }), (err: any) => err.code === 'ERR_THREAD_KILL_NOT_INTERRUPTIBLE_TASK' && /interruptibleTask/.test(err.message));
    } finally {
      await pool.destroy();
    }
  });

  it('only a real cancellation rejects with InterruptedError: a failure after abort() stays itself', async () => {
    const pool = new Piscina({ filename: fixture('no-such-worker.js'), minThreads: 1, maxThreads: 1 });
    try {
      const ac = new AbortController();
      const p = runInterruptible(pool, { value: 1 }, { signal: ac.signal });
      ac.abort('never mind');
      await assert.rejects(p, (err: any) => !(err instanceof InterruptedError) && /Cannot find module|no-such-worker/.test(String(err?.message)));
    } finally {
      await pool.destroy().catch(() => undefined);
    }
  });

  it('works with tinypool (Vitest\'s pool): cancel in place, the next task on the same thread', async () => {
    const { Tinypool } = await import('tinypool'); // ESM only
    const pool = new Tinypool({ filename: fixture('piscina-worker.js'), minThreads: 1, maxThreads: 1, isolateWorkers: false });
    try {
      const { first, next } = await cancelInPlace(pool, 'too slow,\nagain'); // (a message over two lines: the stack's frames still follow it)
      assert.deepStrictEqual(next, { threadId: first.threadId, value: 42 });
    } finally {
      await pool.destroy();
    }
  });
});
