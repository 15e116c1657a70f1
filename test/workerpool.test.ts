// thread-kill/workerpool with the real workerpool 10: cancel() and
// timeout(ms) stop a running task in place and the same worker takes the
// next task; what cannot be stopped in place falls back to workerpool's own
// termination.
import * as assert from 'assert';
import * as path from 'path';
import * as workerpool from 'workerpool';
import { InterruptedError, InvalidArgTypeError, OutOfRangeError, RegionTimeoutError } from 'thread-kill';
import { NotInterruptibleTaskError, interruptibleMethods, interruptiblePool } from 'thread-kill/workerpool';
import { inSyscall } from 'thread-kill/stress';
import { ROOT } from './helpers';

const WORKER = path.join(ROOT, 'test', 'fixtures', 'workerpool-worker.js');
type Pool = ReturnType<typeof workerpool.pool>;

// (workerTerminateTimeout: workerpool's fallback, after which it terminates a
// worker that did not answer its cleanup request. Long here, so that on a
// busy machine the in-place path is what is tested; its own test sets it short.)
function pool(options: Record<string, unknown> = {}, file = WORKER): Pool {
  return interruptiblePool(workerpool.pool(file, { workerType: 'thread', maxWorkers: 1, workerTerminateTimeout: 30_000, ...options }));
}

/** Resolves once the counter's first word is at least `n`. */
async function counted(counter: Int32Array, n = 1): Promise<void> {
  for (let v = Atomics.load(counter, 0); v < n; v = Atomics.load(counter, 0)) {
    const w = Atomics.waitAsync(counter, 0, v);
    if (w.async) await w.value;
  }
}

const isPoolError = (name: string) => (err: unknown) => {
  assert.ok(!(err instanceof InterruptedError), `got ${String(err)}`);
  assert.strictEqual((err as Error).name, name);
  return true;
};

describe('thread-kill/workerpool (workerpool 10)', function () {
  this.timeout(30_000);

  // (cancel() of a promise chained from exec()'s: workerpool cancels through its parent.)
  for (const how of ['timeout(ms)', 'cancel()', 'cancel() of a chained promise'] as const) {
    it(`${how} stops a running task in place: workerpool's own error at once, the same worker runs the next task, none recreated`, async () => {
      const p = pool();
      try {
        const first = await p.exec('double', [1]) as { threadId: number; value: number };
        for (let i = 0; i < 3; i++) {
          const started = new Int32Array(new SharedArrayBuffer(4));
          let running = p.exec('runaway', [started.buffer]);
          if (how === 'timeout(ms)') running = running.timeout(50);
          await counted(started);
          if (how === 'cancel()') running.cancel();
          if (how === 'cancel() of a chained promise') running = running.then((v: unknown) => v).then((v: unknown) => v).cancel();
          await assert.rejects(running, isPoolError(how === 'timeout(ms)' ? 'TimeoutError' : 'CancellationError'));
          const next = await p.exec('double', [21]) as { threadId: number; value: number };
          assert.deepStrictEqual(next, { threadId: first.threadId, value: 42 });
        }
        assert.strictEqual(p.stats().totalWorkers, 1);
      } finally {
        await p.terminate();
      }
    });
  }

  it('a task cancelled while queued never runs; the running one ahead of it is stopped in place', async () => {
    const p = pool();
    try {
      const first = await p.exec('double', [1]) as { threadId: number };
      const started = new Int32Array(new SharedArrayBuffer(4));
      const counter = new Int32Array(new SharedArrayBuffer(4));
      const runaway = p.exec('runaway', [started.buffer]);
      const queued = p.exec('count', [counter.buffer]);
      await counted(started);
      queued.cancel();
      await assert.rejects(queued, isPoolError('CancellationError'));
      runaway.cancel();
      await assert.rejects(runaway, isPoolError('CancellationError'));
      assert.strictEqual((await p.exec('double', [2]) as { threadId: number }).threadId, first.threadId);
      assert.strictEqual(Atomics.load(counter, 0), 0);
    } finally {
      await p.terminate();
    }
  });

  it('cancels racing the end of short tasks: each one resolves with its own result or rejects with CancellationError, never an InterruptedError; one worker throughout', async () => {
    const p = pool();
    try {
      const first = await p.exec('double', [0]) as { threadId: number };
      let resolved = 0;
      let cancelled = 0;
      for (let i = 0; i < 300; i++) {
        const task = p.exec('double', [i]);
        // Cancel at different points of the task's life: now, after a microtask, after a turn.
        const when = i % 3;
        if (when === 0) task.cancel();
        else if (when === 1) queueMicrotask(() => task.cancel());
        else setImmediate(() => task.cancel());
        try {
          const r = await task as { threadId: number; value: number };
          assert.deepStrictEqual(r, { threadId: first.threadId, value: i * 2 });
          resolved++;
        } catch (err) {
          isPoolError('CancellationError')(err);
          cancelled++;
        }
      }
      assert.strictEqual(resolved + cancelled, 300);
      assert.ok(cancelled > 0);
      for (let i = 0; i < 20; i++) assert.deepStrictEqual(await p.exec('double', [i]), { threadId: first.threadId, value: i * 2 });
      assert.strictEqual(p.stats().totalWorkers, 1);
    } finally {
      await p.terminate();
    }
  });

  it('a task that cannot be stopped in place (blocked in a system call) falls back to workerpool\'s termination after workerTerminateTimeout', async () => {
    const p = pool({ workerTerminateTimeout: 200 });
    try {
      const first = await p.exec('double', [1]) as { threadId: number };
      const started = new Int32Array(new SharedArrayBuffer(4));
      const blocked = p.exec('blocked', [started.buffer]);
      await counted(started);
      await inSyscall(first.threadId, ['epoll_wait', 'epoll_pwait', 'epoll_pwait2']); // inside execSync, not on its way there
      blocked.cancel();
      await assert.rejects(blocked, isPoolError('CancellationError'));
      const next = await p.exec('double', [3]) as { threadId: number; value: number };
      assert.notStrictEqual(next.threadId, first.threadId); // a new worker
      assert.strictEqual(next.value, 6);
    } finally {
      await p.terminate();
    }
  });

  it('the task\'s own errors keep their types: its own deadline (RegionTimeoutError), thread-kill\'s validation errors; events still reach the caller', async () => {
    const p = pool();
    try {
      await assert.rejects(p.exec('ownDeadline', []), (err: unknown) => err instanceof RegionTimeoutError && err.timeoutMs === 20);
      await assert.rejects(p.exec('badTimeout', []), (err: unknown) => err instanceof OutOfRangeError);
      const events: unknown[] = [];
      assert.strictEqual(await p.exec('emits', [], { on: (payload: unknown) => events.push(payload) }), 'function');
      assert.deepStrictEqual(events, ['hello']);
    } finally {
      await p.terminate();
    }
  });

  it('a worker whose methods are not wrapped: NotInterruptibleTaskError, not a wrong result', async () => {
    const p = pool({}, path.join(ROOT, 'test', 'fixtures', 'workerpool-plain-worker.js'));
    try {
      await assert.rejects(p.exec('double', [2]), (err: unknown) => err instanceof NotInterruptibleTaskError && err.code === 'ERR_THREAD_KILL_NOT_INTERRUPTIBLE_TASK');
    } finally {
      await p.terminate();
    }
  });

  it('a pool of child processes runs as before (nothing to interrupt in place there)', async () => {
    const p = interruptiblePool(workerpool.pool(WORKER, { workerType: 'process', maxWorkers: 1 }));
    try {
      assert.strictEqual((await p.exec('double', [4]) as { value: number }).value, 8);
    } finally {
      await p.terminate();
    }
  });

  it('bad input: clear typed errors', () => {
    for (const bad of [null, undefined, 1, {}, { exec: 1 }]) {
      assert.throws(() => interruptiblePool(bad as never), (err: unknown) => err instanceof InvalidArgTypeError && /pool must be a workerpool Pool/.test((err as Error).message));
    }
    assert.throws(() => interruptibleMethods(null as never), InvalidArgTypeError);
    assert.throws(() => interruptibleMethods({ a: 1 } as never), (err: unknown) => err instanceof InvalidArgTypeError && /methods\.a must be a function/.test((err as Error).message));
    assert.throws(() => interruptibleMethods({ a: async () => 1 }), (err: unknown) => err instanceof InvalidArgTypeError && /methods\.a must be a synchronous function/.test((err as Error).message));
    const p = pool();
    assert.strictEqual(interruptiblePool(p), p); // once
    assert.throws(() => p.exec('double', 5 as never), /Array expected as argument "params"/);
    return p.terminate();
  });
});
