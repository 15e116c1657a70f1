import * as assert from 'assert';
import * as path from 'path';
import { Piscina } from 'piscina';
import { InterruptedError, RegionTimeoutError } from 'thread-kill';
import * as tk from 'thread-kill';
import { interruptibleTask, runInterruptible } from 'thread-kill/piscina';
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


/** Both pools the adapter is tested with: a pool of one thread on `file`, and the pool's move(). */
async function eachPool(fn: (kind: string, make: (file: string, eventLoop?: boolean) => Pool & { destroy(): Promise<unknown> }, move: (v: ArrayBuffer) => unknown) => Promise<void>): Promise<void> {
  const { Tinypool } = await import('tinypool'); // ESM only
  // eventLoop: the worker goes back to its event loop between tasks (its
  // microtasks run), instead of waiting for the next one in Atomics.wait.
  await fn('piscina', (file, eventLoop) => new Piscina({ filename: fixture(file), minThreads: 1, maxThreads: 1, ...(eventLoop ? { atomics: 'disabled' } : {}) }), (v) => Piscina.move(v));
  await fn('tinypool', (file, eventLoop) => new Tinypool({ filename: fixture(file), minThreads: 1, maxThreads: 1, isolateWorkers: false, ...(eventLoop ? { useAtomics: false } : {}) }), (v) => Tinypool.move(v));
}

/** Resolves once the SharedArrayBuffer's first word is not 0. */
async function flagged(flag: Int32Array): Promise<void> {
  const w = Atomics.waitAsync(flag, 0, 0);
  if (w.async) await w.value;
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

  it("8. a runaway task inside AsyncLocalStorage.run() (OpenTelemetry's context.with()) whose cancellation must wait is ended by the pool's own abort after CANCEL_FALLBACK_MS; the pool goes on (piscina, tinypool)", async () => {
    await eachPool(async (kind, make) => {
      const pool = make('piscina-worker.js');
      const ac = new AbortController();
      const started = new Int32Array(new SharedArrayBuffer(4));
      const runaway = runInterruptible(pool, { alsRunaway: true, started: started.buffer }, { signal: ac.signal });
      await flagged(started);
      ac.abort('too slow');
      await assert.rejects(runaway, (err: unknown) => {
        assert.ok(err instanceof InterruptedError, `${kind}: ${String(err)}`);
        assert.strictEqual(err.reason, 'too slow');
        assert.match(err.interruptedStack, /ended by the pool's own abort/);
        assert.match(err.interruptedStack, /waited for Node's code: \S*run \(node:async_hooks/);
        return true;
      });
      const next = await runInterruptible<{ value: number }>(pool, { value: 4 });
      assert.strictEqual(next.value, 8, kind);
      await pool.destroy();
    });
  });

  it('8. an abort of a task that finishes while its cancellation waits for Node\'s code gives the caller the result of the finished work, never InterruptedError (piscina, tinypool)', async () => {
    await eachPool(async (kind, make) => {
      const pool = make('piscina-worker.js');
      const ac = new AbortController();
      const started = new Int32Array(new SharedArrayBuffer(4));
      // 100 ms of work inside AsyncLocalStorage.run(): less than the fallback's bound.
      const task = runInterruptible<{ value: number }>(pool, { alsWorkMs: 100, value: 5, started: started.buffer }, { signal: ac.signal });
      await flagged(started);
      ac.abort('late');
      assert.strictEqual((await task).value, 10, kind);
      await pool.destroy();
    });
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
    // A worker that fails to load while no task owns it (the one started for minThreads, or a
    // respawn) is the pool's own 'error' event: without a listener it would surface as an
    // uncaught exception in whichever test runs next.
    const poolErrors: unknown[] = [];
    pool.on('error', (err: unknown) => poolErrors.push(err));
    try {
      const ac = new AbortController();
      const p = runInterruptible(pool, { value: 1 }, { signal: ac.signal });
      ac.abort('never mind');
      await assert.rejects(p, (err: any) => !(err instanceof InterruptedError) && /Cannot find module|no-such-worker/.test(String(err?.message)));
    } finally {
      await pool.destroy().catch(() => undefined);
    }
    for (const err of poolErrors) assert.match(String((err as Error)?.message), /Cannot find module|no-such-worker/);
  });

  it('a task that fails with a deadline of its own rejects with that RegionTimeoutError, never as a cancellation (also when aborted after it failed)', async () => {
    await eachPool(async (kind, make) => {
      const pool = make('own-deadline-pool-worker.js', true); // (its microtask tells when the task has failed)
      try {
        const timedOut = (err: any): boolean => {
          assert.ok(err instanceof RegionTimeoutError, `${kind}: ${err?.stack}`);
          assert.ok(err instanceof InterruptedError && err.timedOut === true && err.timeoutMs === 20, kind);
          assert.match(err.stack!, /^RegionTimeoutError: interruptible\(\) region timed out after 20 ms\n {4}at .*own-deadline-pool-worker\.js:\d+:\d+/, kind);
          return true;
        };
        await assert.rejects(runInterruptible(pool, {}), timedOut);
        const done = new Int32Array(new SharedArrayBuffer(4));
        const ac = new AbortController();
        const late = assert.rejects(runInterruptible(pool, { done: done.buffer }, { signal: ac.signal }), timedOut);
        await flagged(done);
        ac.abort('late'); // (the task has failed in the worker: its answer may or may not have arrived yet)
        await late;
      } finally {
        await pool.destroy();
      }
    });
  });

  it('an abort of a task whose worker forgot interruptibleTask() falls back to the pool\'s own abort: it never hangs', async () => {
    await eachPool(async (kind, make) => {
      const pool = make('forgot-loop-pool-worker.js');
      try {
        const started = new Int32Array(new SharedArrayBuffer(4));
        const ac = new AbortController();
        const p = runInterruptible(pool, { started: started.buffer }, { signal: ac.signal });
        await flagged(started);
        ac.abort('stop it');
        await assert.rejects(p, (err: any) => {
          assert.ok(err instanceof InterruptedError, `${kind}: ${err?.stack}`);
          assert.strictEqual(err.reason, 'stop it');
          assert.match(err.interruptedStack, /does not use interruptibleTask\(\) and was terminated/);
          return true;
        });
      } finally {
        await pool.destroy();
      }
    });
  });

  it('handlers must be synchronous: an async one is refused by interruptibleTask(), one that returns a promise fails its task', async () => {
    assert.throws(() => interruptibleTask(async () => 1), (err: any) => err.code === 'ERR_THREAD_KILL_INVALID_ARG_TYPE' && /^handler must be a synchronous function/.test(err.message));
    assert.throws(() => interruptibleTask(undefined as never), (err: any) => err.code === 'ERR_THREAD_KILL_INVALID_ARG_TYPE' && /handler/.test(err.message));
    assert.throws(() => interruptibleTask(() => Promise.resolve(1))(7), (err: any) => err.code === 'ERR_THREAD_KILL_INVALID_ARG_TYPE' && /handler must be synchronous: it returned a promise/.test(err.message));
    await eachPool(async (kind, make) => {
      const pool = make('promise-pool-worker.js');
      try {
        await assert.rejects(runInterruptible(pool, { value: 1 }, { signal: new AbortController().signal }),
          (err: any) => !(err instanceof InterruptedError) && err instanceof tk.InvalidArgTypeError && err.code === 'ERR_THREAD_KILL_INVALID_ARG_TYPE' &&
            /handler must be synchronous: it returned a promise/.test(err.message) && String(err.stack).startsWith(`InvalidArgTypeError: ${err.message}\n    at `), kind);
      } finally {
        await pool.destroy();
      }
    });
  });

  it("thread-kill's own errors in a task arrive with their class and code (a bad argument to a thread-kill call); other errors as the pool passes them", async () => {
    await eachPool(async (kind, make) => {
      const pool = make('piscina-worker.js');
      try {
        await assert.rejects(runInterruptible(pool, { badTimeout: true }),
          (err: any) => err instanceof tk.OutOfRangeError && err.code === 'ERR_THREAD_KILL_OUT_OF_RANGE' && /options\.timeoutMs/.test(err.message) &&
            /piscina-worker\.js:\d+/.test(String(err.stack)), kind);
        await assert.rejects(runInterruptible(pool, { plainError: true }),
          (err: any) => Object.getPrototypeOf(err) === Error.prototype && err.message === 'plain' && err.code === undefined, kind);
      } finally {
        await pool.destroy();
      }
    });
  });

  it('an abort whose reason cannot cross (too large, not cloneable, a throwing toString) still cancels in place; the caller gets the reason itself', async () => {
    const pool = new Piscina({ filename: fixture('piscina-worker.js'), minThreads: 1, maxThreads: 1 });
    try {
      const unsendable = ['x'.repeat(5000), { f: () => 1, toString() { throw new Error('no'); } }, { toString: () => 'y'.repeat(9000), s: Symbol('z') }];
      for (const reason of unsendable) {
        const started = new Int32Array(new SharedArrayBuffer(4));
        const ac = new AbortController();
        const p = runInterruptible(pool, { runaway: true, started: started.buffer }, { signal: ac.signal });
        await flagged(started);
        ac.abort(reason);
        await assert.rejects(p, (err: unknown) => err instanceof InterruptedError && err.reason === reason);
      }
      assert.strictEqual(((await runInterruptible(pool, { value: 2 })) as { value: number }).value, 4);
    } finally {
      await pool.destroy();
    }
  });

  it('a pool\'s move() task arrives as its value, transferred (Piscina.move, Tinypool.move)', async () => {
    await eachPool(async (kind, make, move) => {
      const pool = make('move-pool-worker.js');
      try {
        const buf = new ArrayBuffer(16);
        assert.strictEqual(await runInterruptible(pool, move(buf)), '[object ArrayBuffer] 16', kind);
        assert.strictEqual(buf.byteLength, 0, `${kind}: transferred, not copied`);
        const other = new ArrayBuffer(8);
        const again = new ArrayBuffer(16);
        assert.strictEqual(await runInterruptible(pool, move(again), { transferList: [other], signal: new AbortController().signal }), '[object ArrayBuffer] 16', kind);
        assert.deepStrictEqual([again.byteLength, other.byteLength], [0, 0], kind);
      } finally {
        await pool.destroy();
      }
    });
    void tk;
  });

  it('abort() and then destroy() at once (a pool shutting down): both settle, every round (15 rounds per pool)', async () => {
    await eachPool(async (kind, make) => {
      for (let round = 0; round < 15; round++) {
        const pool = make('piscina-worker.js');
        const started = new Int32Array(new SharedArrayBuffer(4));
        const ac = new AbortController();
        const task = runInterruptible(pool, { runaway: true, started: started.buffer }, { signal: ac.signal }).then(() => 'resolved', (e) => e);
        await flagged(started);
        ac.abort('shutting down');
        // destroy() terminates the worker while its region is being interrupted.
        let timer: NodeJS.Timeout | undefined;
        const hung = new Promise((resolve) => { timer = setTimeout(resolve, 15_000, 'hung'); });
        const settled = await Promise.race([Promise.all([task, pool.destroy()]), hung]);
        clearTimeout(timer);
        assert.notStrictEqual(settled, 'hung', `${kind}, round ${round}: abort() then destroy() did not settle`);
        const [outcome] = settled as [unknown];
        assert.ok(outcome instanceof Error, `${kind}: the task rejects (${String(outcome)})`);
      }
    });
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
