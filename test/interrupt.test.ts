import * as assert from 'assert';
import { Worker, threadId as mainThreadId } from 'worker_threads';
import * as tk from 'thread-kill';
import { inSyscall, SCENARIOS, waitFlag } from 'thread-kill/stress';
import { SiblingKiller, fixtureMessages, fixturePath, hang, isLive, makeFifo } from './helpers';

const INTERRUPTIBLE = SCENARIOS.filter((s) => s.interrupt === 'interrupted').map((s) => s.name);

async function assertHealthyAfterInterrupt(h: ReturnType<typeof hang>, by: number, reason: unknown): Promise<Record<string, unknown>> {
  const m = await h.next('interrupted');
  assert.strictEqual(m.code, 'ERR_THREAD_INTERRUPTED');
  assert.deepStrictEqual(m.reason, reason);
  assert.strictEqual(m.by, by);
  // The thread goes on: it answers a ping after the interrupt.
  h.worker.postMessage('ping');
  await h.next('pong');
  h.worker.postMessage('leave');
  assert.strictEqual(await h.exited, 0);
  return m;
}

describe('interrupt()', () => {
  let sibling: SiblingKiller;
  before(async () => { sibling = new SiblingKiller(); await sibling.ready; });
  after(() => sibling.close());

  for (const name of INTERRUPTIBLE) {
    describe(`a region hung in ${name}`, () => {
      it('throws InterruptedError when interrupted from the main thread (its parent); the thread goes on', async () => {
        const h = hang(name, { mode: 'interrupt' });
        await h.ready;
        const d = await tk.interrupt(h.threadId, { why: name }, { untilDelivered: true });
        assert.strictEqual(d.delivered, true, JSON.stringify(d));
        const m = await assertHealthyAfterInterrupt(h, mainThreadId, { why: name });
        assert.match(String(m.stack), /^InterruptedError: interrupted here/);
        if (name === 'try-finally') {
          assert.deepStrictEqual(h.messages.filter((x) => String(x.kind).startsWith('inner')), [], 'code inside the region does not run its catch/finally');
        }
      });

      it('throws InterruptedError when interrupted from a sibling worker', async () => {
        const h = hang(name, { mode: 'interrupt' });
        await h.ready;
        const d = await sibling.run<tk.InterruptDelivery>('interrupt', h.threadId, { reason: 'sib' });
        assert.strictEqual(d.delivered, true);
        await assertHealthyAfterInterrupt(h, sibling.threadId, 'sib');
      });

      it('throws InterruptedError when interrupted from its own child worker', async () => {
        const h = hang(name, { mode: 'interrupt', childKiller: true });
        await h.ready;
        const m = await h.next('interrupted');
        assert.strictEqual(m.reason, 'from child');
        assert.notStrictEqual(m.by, h.threadId);
        h.worker.postMessage('ping');
        await h.next('pong');
        h.worker.postMessage('leave');
        await h.exited;
      });
    });
  }

  it('a thread idle in its event loop has nothing to interrupt: false, and no effect at all', async () => {
    const h = hang('idle-loop', { mode: 'interrupt' });
    await h.ready;
    assert.strictEqual(tk.interrupt(h.threadId, 'x'), false);
    const d = await tk.interrupt(h.threadId, 'x', { untilDelivered: true });
    assert.deepStrictEqual([d.delivered, d.why], [false, 'no-region']);
    h.worker.postMessage('ping');
    await h.next('pong');
    h.worker.postMessage('leave');
    assert.strictEqual(await h.exited, 0);
    assert.ok(!h.messages.some((m) => m.kind === 'interrupted'));
  });

  it('a region blocked in a syscall gets the interrupt when the call returns (untilDelivered re-arms it)', async () => {
    const fifo = makeFifo();
    const h = hang('fifo-read', { mode: 'interrupt', data: { fifo: fifo.path } });
    await h.ready;
    await inSyscall(h.threadId, ['read']);
    const pending = tk.interrupt(h.threadId, 'after read', { untilDelivered: true, retryIntervalMs: 5 });
    fifo.release();
    const d = await pending;
    assert.strictEqual(d.delivered, true);
    await assertHealthyAfterInterrupt(h, mainThreadId, 'after read');
  });

  it('untilDelivered resolves { delivered: false, why: "timeout" } and withdraws the request', async () => {
    const fifo = makeFifo();
    const h = hang('fifo-read', { mode: 'interrupt', data: { fifo: fifo.path } });
    await h.ready;
    await inSyscall(h.threadId, ['read']);
    const d = await tk.interrupt(h.threadId, 'late', { untilDelivered: true, timeoutMs: 50 });
    assert.deepStrictEqual([d.delivered, d.why], [false, 'timeout']);
    fifo.release();
    // The read returns and the region completes normally: the withdrawn
    // interrupt never lands.
    assert.strictEqual(await h.exited, 0);
    assert.ok(!h.messages.some((m) => m.kind === 'interrupted'));
  });

  it('addressed to a thread, interrupts the outermost region; inner regions let it pass', async () => {
    const { messages } = await fixtureMessages('interrupt', { case: 'outermost' });
    assert.deepStrictEqual(messages, ['outer caught ERR_THREAD_INTERRUPTED']);
  });

  it('addressed to a region handle, interrupts exactly that region', async () => {
    const { messages } = await fixtureMessages('interrupt', { case: 'handle' });
    assert.strictEqual(messages[0].depth, 2);
    assert.strictEqual(typeof messages[0].handle.regionSeq, 'number');
    assert.deepStrictEqual(messages.slice(1), ['inner caught inner only', 'outer continues', { after: null }]);
  });

  it('a finished region handle is not interrupted (false, no effect)', async () => {
    const { messages } = await fixtureMessages('interrupt', { case: 'finished-handle' });
    assert.deepStrictEqual(messages, [false, 'second region ran']);
  });

  it('interrupting your own thread inside a region throws at the next check; outside a region returns false', async () => {
    assert.strictEqual(tk.interrupt(mainThreadId, 'self'), false);
    let caught: tk.InterruptedError | undefined;
    try {
      tk.interruptible(() => {
        // Thrown at the next interrupt check, which may come before
        // interrupt() has even returned.
        tk.interrupt(mainThreadId, 'self');
        for (;;) { /* ... or here */ }
      });
    } catch (e) {
      caught = e as tk.InterruptedError;
    }
    assert.ok(caught instanceof tk.InterruptedError);
    assert.strictEqual(caught.reason, 'self');
    assert.strictEqual(caught.by, mainThreadId);
  });


  it('the error: `stack` is where the region stopped, then the interruptible() call and its callers; `interruptedStack` is the region part', () => {
    // Deeper than the short first capture, so the full capture is exercised.
    function recurse(n: number): number {
      if (n === 0) {
        tk.interrupt(mainThreadId, 'deep');
        for (;;) { /* the interrupt lands here */ }
      }
      return recurse(n - 1) + 1;
    }
    function callsRegion(): number {
      return tk.interruptible(() => recurse(20));
    }
    let caught: tk.InterruptedError | undefined;
    try {
      callsRegion();
    } catch (e) {
      caught = e as tk.InterruptedError;
    }
    assert.ok(caught instanceof tk.InterruptedError);
    const clone = structuredClone(caught); // before anything read `stack`: the getter serves it
    const inRegion = caught.interruptedStack.split('\n');
    assert.strictEqual(inRegion[0], 'InterruptedError: interrupted here');
    assert.strictEqual(inRegion.length, 1 + 21 + 1, caught.interruptedStack); // recurse(20..0), the arrow
    assert.ok(inRegion.slice(1, 22).every((l) => /^ {4}at recurse \(.*interrupt\.test\.js:\d+:\d+\)$/.test(l)), caught.interruptedStack);
    const stack = caught.stack!.split('\n');
    assert.strictEqual(stack[0], `InterruptedError: ${caught.message}`);
    assert.deepStrictEqual(stack.slice(1, 23), inRegion.slice(1));
    assert.match(stack[23], /^ {4}at interruptible \(.*[/\\]lib[/\\]region[/\\]interrupt\.js:\d+:\d+\)$/);
    assert.match(stack[24], /^ {4}at callsRegion \(.*interrupt\.test\.js/);
    assert.strictEqual(clone.stack, caught.stack);
    assert.strictEqual(clone.message, caught.message);
    // Once read it is an ordinary own property, writable like any error's.
    assert.strictEqual(Object.getOwnPropertyDescriptor(caught, 'stack')?.value, caught.stack);
    caught.stack = 'replaced';
    assert.strictEqual(caught.stack, 'replaced');
    const fresh = new tk.InterruptedError('r', 1, 'here');
    assert.match(fresh.stack!, /^InterruptedError: interrupted by thread 1: r\n {4}at /);
    assert.strictEqual(fresh.interruptedStack, 'here');
  });
  it('the error: `stack` read first, then `interruptedStack` (the capture is resolved once, for both), also on a frozen error', () => {
    function stopsHere(): never {
      tk.interrupt(mainThreadId, 'order');
      for (;;) { /* the interrupt lands here */ }
    }
    const caughtOne = (): tk.InterruptedError => {
      try {
        tk.interruptible(() => stopsHere());
      } catch (e) {
        return e as tk.InterruptedError;
      }
      assert.fail('not interrupted');
    };
    for (const freeze of [false, true]) {
      const caught = caughtOne();
      if (freeze) Object.freeze(caught);
      const stack = caught.stack!.split('\n');
      assert.strictEqual(stack[0], `InterruptedError: ${caught.message}`);
      assert.match(stack[1], /^ {4}at stopsHere \(.*interrupt\.test\.js:\d+:\d+\)$/);
      assert.match(stack[3], /^ {4}at interruptible \(/, caught.stack);
      const inRegion = caught.interruptedStack.split('\n');
      assert.deepStrictEqual(inRegion, ['InterruptedError: interrupted here', stack[1], stack[2]], caught.stack);
      assert.strictEqual(caught.stack, stack.join('\n')); // the same again (frozen: computed again, from the frames)
      assert.strictEqual(Object.getOwnPropertyDescriptor(caught, 'stack')?.value, freeze ? undefined : caught.stack);
    }
  });
  it('a worker can interrupt a synchronous region on the main thread', async () => {
    const flag = new Int32Array(new SharedArrayBuffer(4));
    const w = new Worker(fixturePath('interrupt'), { workerData: { case: 'interrupt-main', flag: flag.buffer } });
    let caught: tk.InterruptedError | undefined;
    try {
      tk.interruptible(() => {
        Atomics.store(flag, 0, 1);
        Atomics.notify(flag, 0);
        for (;;) { /* spin until the worker interrupts us */ }
      });
    } catch (e) {
      caught = e as tk.InterruptedError;
    }
    assert.strictEqual(caught?.reason, 'ctrl-c');
    assert.strictEqual(caught?.by, w.threadId);
    assert.match(caught!.interruptedStack, /interrupt\.test\.js/);
    await new Promise((resolve) => w.once('exit', resolve));
  });

  it('a frozen Error constructor (no Error.stackTraceLimit writes) still gets an InterruptedError with its stack', async () => {
    const { messages } = await fixtureMessages('interrupt', { case: 'frozen-error' });
    assert.deepStrictEqual(messages, [[true, 'frozen', true]]);
  });

  it('{ pending: true } waits for the next region entry', async () => {
    const { messages } = await fixtureMessages('interrupt', { case: 'pending' });
    assert.deepStrictEqual(messages, [false, 'thrown at entry: queued', 'next region runs']);
  });

  it('without pending, an interrupt with no active region has no effect on a later region', async () => {
    const { messages } = await fixtureMessages('interrupt', { case: 'not-pending' });
    assert.deepStrictEqual(messages, [false, 'body ran']);
  });

  it('a non-cloneable reason is a TypeError at the call site and nothing is sent', async () => {
    const h = hang('busy-loop', { mode: 'interrupt' });
    await h.ready;
    assert.throws(() => tk.interrupt(h.threadId, () => 1), { name: 'NotCloneableError', code: 'ERR_THREAD_KILL_NOT_CLONEABLE' });
    assert.throws(() => tk.interrupt(h.threadId, { s: Symbol('x') }), TypeError);
    // The region is still running: the next (valid) interrupt is the one it sees.
    await tk.interrupt(h.threadId, 'valid', { untilDelivered: true });
    await assertHealthyAfterInterrupt(h, mainThreadId, 'valid');
  });

  it('unknown and exited threads', async () => {
    assert.throws(() => tk.interrupt(987654, 'x'), { code: 'ERR_THREAD_KILL_UNKNOWN_THREAD' });
    const h = hang('busy-loop', { mode: 'kill' });
    await h.ready;
    await tk.kill(h.worker);
    assert.strictEqual(tk.interrupt(h.threadId, 'x'), false);
    const d = await tk.interrupt(h.threadId, 'x', { untilDelivered: true });
    assert.deepStrictEqual([d.delivered, d.why], [false, 'thread-exited']);
  });

  it("a region hung in a require() whose module never ends: the interrupt waits for Node's loader (reported deferred, where), and kill() still ends the thread", async () => {
    const h = hang('require-hang', { mode: 'interrupt' });
    await h.ready;
    const d = await tk.interrupt(h.threadId, 'x', { untilDelivered: true, timeoutMs: 200 });
    assert.deepStrictEqual([d.delivered, d.why], [false, 'deferred'], JSON.stringify(d));
    assert.match(d.deferredAt!, /\(node:internal\/modules\/cjs\/loader:\d+:\d+\): inside a try block of Node's$/);
    assert.strictEqual((await tk.kill(h.threadId)).outcome, 'killed');
    await h.exited;
  });

  describe('safety', () => {
    it('100,000 interrupts racing region entry/exit never terminate code outside a region @soak @sanitize', async function () {
      this.timeout(300_000);
      const TOTAL = 100_000;
      const progress = new Int32Array(new SharedArrayBuffer(8));
      const target = new Worker(fixturePath('interrupt'), { workerData: { case: 'entry-race', progress: progress.buffer } });
      const exited = new Promise<number>((resolve) => target.once('exit', resolve));
      const result = new Promise<{ regions: number; interrupted: number; outside: number }>((resolve) => target.once('message', resolve));
      const errors: Error[] = [];
      target.on('error', (e) => errors.push(e));
      await waitFlag(progress);
      const hits = await sibling.run<number>('interrupt-storm', target.threadId, { count: TOTAL });
      Atomics.store(progress, 1, 1);
      const r = await result;
      assert.strictEqual(await exited, 0);
      assert.deepStrictEqual(errors, []);
      assert.ok(r.interrupted > 0, 'some interrupts landed');
      assert.ok(r.interrupted <= hits, `${r.interrupted} InterruptedErrors for ${hits} hits`);
      assert.ok(r.outside >= 200 && r.regions <= r.outside);
    });

    it('a region never swallows kill(): the thread dies', async () => {
      const h = hang('busy-loop', { mode: 'interrupt' });
      await h.ready;
      const report = await tk.kill(h.threadId, { graceMs: 0 });
      assert.strictEqual(report.outcome, 'killed');
      await h.exited;
      assert.ok(!h.messages.some((m) => m.kind === 'interrupted'));
    });

    it('a region never swallows worker.terminate(): the thread dies', async () => {
      const h = hang('busy-loop', { mode: 'interrupt' });
      await h.ready;
      await h.worker.terminate();
      assert.ok(!h.messages.some((m) => m.kind === 'interrupted'));
      assert.ok(!isLive(h.threadId));
    });

    it('interrupt and kill arriving together on one region: the thread always dies (50 rounds) @sanitize', async () => {
      for (let i = 0; i < 50; i++) {
        const h = hang('busy-loop', { mode: 'interrupt' });
        await h.ready;
        const killing = i % 2 === 0
          ? (tk.interrupt(h.threadId, 'race'), tk.kill(h.threadId, { graceMs: 0 }))
          : (() => { const k = tk.kill(h.threadId, { graceMs: 0 }); tk.interrupt(h.threadId, 'race'); return k; })();
        const report = await killing;
        assert.strictEqual(report.outcome, 'killed');
        await h.exited;
        assert.ok(!isLive(h.threadId));
      }
    });

    // A plain Worker's terminate() (as a pool's destroy() does right after an
    // abort) that lands while the region is being interrupted: Node's
    // termination merges into the region's and must not be cancelled with
    // it, or a thread that then waits in Atomics.wait (an idle pool worker)
    // or spins never ends.
    it('interrupt() and a plain worker.terminate() arriving together: terminate() always ends the thread (60 rounds) @sanitize', async () => {
      const after = ['wait', 'spin', 'wait-in-region'];
      for (let i = 0; i < 60; i++) {
        const flag = new Int32Array(new SharedArrayBuffer(8));
        const w = new Worker(`
          const { interruptible } = require(${JSON.stringify(require.resolve('thread-kill'))});
          const { workerData: { flag, after } } = require('worker_threads');
          try { interruptible(() => { Atomics.store(flag, 0, 1); Atomics.notify(flag, 0); for (;;) { /* the task */ } }); }
          catch { Atomics.store(flag, 1, 1); }
          if (after === 'spin') for (;;) { /* busy after the catch */ }
          else if (after === 'wait') Atomics.wait(flag, 0, 1); // idle, as a pool worker between tasks
          else interruptible(() => Atomics.wait(flag, 0, 1)); // idle, inside another region
        `, { eval: true, workerData: { flag, after: after[i % 3] } });
        const exited = new Promise<number>((resolve) => w.once('exit', resolve));
        await waitFlag(flag);
        const terminating = i % 2 === 0
          ? (tk.interrupt(w.threadId, 'cancel'), w.terminate())
          : (() => { const t = w.terminate(); tk.interrupt(w.threadId, 'cancel'); return t; })();
        let timer: NodeJS.Timeout | undefined;
        const hung = new Promise<'hung'>((resolve) => { timer = setTimeout(resolve, 15_000, 'hung'); });
        const outcome = await Promise.race([terminating, hung]);
        clearTimeout(timer);
        if (outcome === 'hung') {
          await tk.kill(w, { graceMs: 0 });
          assert.fail(`round ${i} (${after[i % 3]}): terminate() did not end the thread (its region caught the interrupt: ${Atomics.load(flag, 1) === 1})`);
        }
        assert.strictEqual(await exited, 1);
      }
    });
  });
});
