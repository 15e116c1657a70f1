import * as assert from 'assert';
import { Worker } from 'worker_threads';
import * as tk from 'thread-kill';
import { inSyscall } from 'thread-kill/stress';
import { SiblingKiller, fixtureWorker, hang, isLive, killFromParentWorker, makeFifo, runChild, until } from './helpers';

const HANGS = ['busy-loop', 'idle-loop', 'atomics-wait', 'microtask-loop'];

function assertKilled(report: tk.KillReport, threadId: number): void {
  assert.strictEqual(report.threadId, threadId);
  assert.strictEqual(report.outcome, 'killed', JSON.stringify(report));
  assert.ok(report.attempts >= 1, 'at least one hard stop was issued');
  assert.ok(report.elapsedMs >= 0 && Number.isFinite(report.elapsedMs));
  assert.ok(!isLive(threadId), 'the thread left the registry');
}

describe('kill()', () => {
  let sibling: SiblingKiller;
  before(async () => { sibling = new SiblingKiller(); await sibling.ready; });
  after(() => sibling.close());

  for (const name of HANGS) {
    describe(`a worker hung in ${name}`, () => {
      it('is killed from the main thread (its parent)', async () => {
        const h = hang(name, { mode: 'kill' });
        await h.ready;
        const report = await tk.kill(h.worker);
        assertKilled(report, h.threadId);
        assert.deepStrictEqual(report.phases.map((p) => p.phase), ['cooperative', 'interrupt', 'terminate']);
        assert.deepStrictEqual(report.phases.map((p) => p.result), ['skipped', 'skipped', 'killed']);
        await h.exited;
      });

      it('is killed from its parent worker', async () => {
        const { report, targetId } = await killFromParentWorker(name);
        assertKilled(report, targetId);
      });

      it('is killed from a sibling worker, by threadId', async () => {
        const h = hang(name, { mode: 'kill' });
        await h.ready;
        const report = await sibling.run<tk.KillReport>('kill', h.threadId);
        await h.exited;
        assertKilled(report, h.threadId);
      });

      it('is killed from its own child worker (the child dies with it)', async () => {
        const h = hang(name, { mode: 'kill', childKiller: true });
        await h.ready;
        const code = await h.exited;
        assert.strictEqual(code, 1); // a killed thread reports 1, as worker.terminate()
        await until(() => !isLive(h.threadId), 'the target to leave the registry');
        assert.deepStrictEqual(tk.threads().map((t) => t.threadId), [0, sibling.threadId].filter((id) => isLive(id)));
      });
    });
  }

  it('captures the JS stack of a busy thread as the stop lands', async () => {
    const h = hang('busy-loop', { mode: 'kill' });
    await h.ready;
    const report = await tk.kill(h.threadId);
    const lines = (report.jsStack ?? '').split('\n');
    // The thread's own frames, with line and column, top first...
    assert.match(lines[0], /^ {4}at .*\[worker eval\]:\d+:\d+\)?$/, report.jsStack);
    // ...and below the last of them, Node's bootstrap: a frame of a module
    // already named above keeps its line, the others their module only.
    const own = lines.map((l) => !/\(?node:/.test(l)).lastIndexOf(true);
    assert.ok(own >= 0 && own < lines.length - 1, report.jsStack);
    const above = new Set(lines.slice(0, own + 1).map((l) => /(node:[^:)]+)/.exec(l)?.[1]).filter(Boolean));
    let moduleOnly = 0;
    for (const l of lines.slice(own + 1)) {
      const module = /(node:[^:)]+)/.exec(l)![1];
      if (above.has(module)) assert.match(l, /node:[^:)]+:\d+:\d+\)?$/, l);
      else { assert.match(l, /node:[^:)]+\)?$/, l); moduleOnly++; }
    }
    assert.ok(moduleOnly > 0, report.jsStack); // (an eval'd worker's bootstrap: worker_thread, event_target, ...)
    await h.exited;
  });

  it('kills a KillableWorker hung on its first line (never imports thread-kill) from a sibling, before it registered', async () => {
    const w = new tk.KillableWorker('for (;;) {}', { eval: true });
    const exited = new Promise((resolve) => w.once('exit', resolve));
    const report = await sibling.run<tk.KillReport>('kill', w.threadId);
    assert.strictEqual(report.outcome, 'killed');
    await exited;
    assert.ok(!isLive(w.originalThreadId));
  });

  it('kills a KillableWorker hung on its first line from a sibling, after it registered', async () => {
    const w = new tk.KillableWorker('for (;;) {}', { eval: true, name: 'first-line' } as never);
    await until(() => tk.threads().some((t) => t.threadId === w.threadId && t.osTid > 0), 'registration');
    const info = tk.threadInfo(w.threadId)!;
    assert.strictEqual(info.name, 'first-line');
    assert.strictEqual(info.state, 'running');
    assert.strictEqual(info.isMainThread, false);
    const exited = new Promise((resolve) => w.once('exit', resolve));
    const report = await sibling.run<tk.KillReport>('kill', w.threadId);
    assert.strictEqual(report.outcome, 'killed');
    await exited;
  });

  it('kills a plain Worker that never loaded thread-kill through its own handle', async () => {
    const w = new Worker('for (;;) {}', { eval: true });
    await new Promise((resolve) => w.once('online', resolve));
    const report = await tk.kill(w);
    assert.strictEqual(report.outcome, 'killed');
    assert.match(report.phases[0].note ?? '', /never loaded thread-kill/);
  });

  it('resolves already-exited after the thread exited, by threadId and by Worker', async () => {
    const h = hang('busy-loop', { mode: 'kill' });
    await h.ready;
    await tk.kill(h.worker);
    await h.exited;
    assert.strictEqual((await tk.kill(h.threadId)).outcome, 'already-exited');
    assert.strictEqual((await tk.kill(h.worker)).outcome, 'already-exited');
    const plain = new Worker('0', { eval: true });
    await new Promise((resolve) => plain.once('exit', resolve));
    assert.deepStrictEqual(await tk.kill(plain).then((r) => [r.outcome, r.threadId]), ['already-exited', -1]);
  });

  it('refuses to kill the main thread', async () => {
    await assert.rejects(tk.kill(0), { code: 'ERR_THREAD_KILL_MAIN_THREAD', name: 'MainThreadError' });
    await assert.rejects(sibling.run('kill', 0), { code: 'ERR_THREAD_KILL_MAIN_THREAD' });
  });

  it('killing the current worker thread stops it at once and never settles', async () => {
    const w = new Worker(`
      const tk = require(${JSON.stringify(require.resolve('thread-kill'))});
      const { parentPort, threadId } = require('worker_threads');
      tk.kill(threadId).then(() => parentPort.postMessage('settled'));
      for (;;) {}
    `, { eval: true });
    const messages: unknown[] = [];
    w.on('message', (m) => messages.push(m));
    await new Promise((resolve) => w.once('exit', resolve));
    assert.deepStrictEqual(messages, []);
  });

  it('4 threads killing one target at once all report the same truth @sanitize', async () => {
    const others = [new SiblingKiller(), new SiblingKiller(), new SiblingKiller()];
    const fifo = makeFifo();
    try {
      // The target is held in read() until all five kills are waiting on it,
      // so they are truly concurrent; then the read returns and it dies.
      await Promise.all(others.map((k) => k.run('threads', 0))); // all killers are up
      const h = hang('fifo-read', { mode: 'kill', data: { fifo: fifo.path } });
      await h.ready;
      await inSyscall(h.threadId, ['read']);
      const reports = Promise.all([
        // unblock: false keeps it in read() (the unblock rung would end it).
        tk.kill(h.threadId, { unblock: false }),
        ...[sibling, ...others].map((k) => k.run<tk.KillReport>('kill', h.threadId, { unblock: false })),
      ]);
      await until(() => tk.threadInfo(h.threadId)?.watchers === 5, 'five waiting killers');
      assert.strictEqual(tk.threadInfo(h.threadId)?.state, 'stopping');
      fifo.release();
      assert.deepStrictEqual((await reports).map((r) => r.outcome), ['killed', 'killed', 'killed', 'killed', 'killed']);
      await h.exited;
      assert.strictEqual((await tk.kill(h.threadId)).outcome, 'already-exited');
    } finally {
      await Promise.all(others.map((k) => k.close()));
    }
  });

  describe('the first kill in a fresh process', () => {
    it('kill(worker) from the parent and kill(threadId) from a sibling keep every part of the report', async () => {
      // A child process that never killed before: the short path to the stop
      // and the report built without the ladder are what runs.
      const r = await runChild(`
        const tk = require(TK);
        const { Worker } = require('worker_threads');
        const hung = () => {
          const flag = new Int32Array(new SharedArrayBuffer(4));
          const w = new Worker(\`require(\${JSON.stringify(TK)}); const f = new Int32Array(require('worker_threads').workerData);
            function spin() { Atomics.store(f, 0, 1); Atomics.notify(f, 0); for (;;) {} } spin();\`, { eval: true, workerData: flag.buffer });
          const exited = new Promise((resolve) => w.once('exit', resolve));
          return { w, exited, ready: Atomics.waitAsync(flag, 0, 0).value };
        };
        const sibling = new Worker(\`const tk = require(\${JSON.stringify(TK)}); const { parentPort } = require('worker_threads');
          parentPort.on('message', (id) => tk.kill(id).then((r) => parentPort.postMessage(r)));\`, { eval: true });
        (async () => {
          const a = hung();
          await a.ready;
          const ra = await tk.kill(a.w);
          const codeA = await a.exited;
          const b = hung();
          await b.ready;
          sibling.postMessage(b.w.threadId);
          const rb = await new Promise((resolve) => sibling.once('message', resolve));
          const codeB = await b.exited;
          await sibling.terminate();
          console.log(JSON.stringify({ ra, codeA, rb, codeB, watchers: tk.threads().map((t) => t.watchers) }));
        })();
      `);
      assert.strictEqual(r.code, 0, r.stderr);
      const { ra, codeA, rb, codeB, watchers } = JSON.parse(r.stdout);
      for (const report of [ra, rb] as tk.KillReport[]) {
        assert.strictEqual(report.outcome, 'killed');
        // (One stop, unless a busy machine kept the thread alive past the first retry, 10 ms.)
        assert.ok(report.attempts >= 1, `attempts ${report.attempts}`);
        assert.deepStrictEqual(report.phases.map((p) => `${p.phase}:${p.result}`), ['cooperative:skipped', 'interrupt:skipped', 'terminate:killed']);
        assert.match(report.phases[0].note!, /no stop token and no onKill hooks/);
        assert.match(report.phases[1].note!, /no interruptible\(\) region/);
        for (const p of report.phases) assert.ok(p.startMs >= 0 && p.durationMs >= 0 && p.startMs <= report.elapsedMs, JSON.stringify(p));
        assert.match(report.jsStack ?? '', /spin/);
      }
      assert.strictEqual(codeA, 1); // as worker.terminate()
      assert.strictEqual(codeB, 0); // a plain Worker killed by id from a thread that is not its parent
      assert.deepStrictEqual(watchers, [0]);
    });

    it("a parent's kill(worker) is counted as a watcher while it waits for 'exit'", async () => {
      const fifo = makeFifo();
      const h = hang('fifo-read', { mode: 'kill', data: { fifo: fifo.path } });
      await h.ready;
      await inSyscall(h.threadId, ['read']);
      // unblock: false keeps it in read() until the FIFO is released.
      const killing = tk.kill(h.worker, { unblock: false });
      await until(() => tk.threadInfo(h.threadId)?.watchers === 1, 'the parent as a watcher');
      fifo.release();
      const report = await killing;
      assert.strictEqual(report.outcome, 'killed');
      assert.strictEqual(await h.exited, 1);
    });

    it('two kills of one thread from the same thread: the one that gives up does not take away the other\'s death notice', async () => {
      const fifo = makeFifo();
      const h = hang('fifo-read', { mode: 'kill', data: { fifo: fifo.path } });
      await h.ready;
      await inSyscall(h.threadId, ['read']);
      // Both kills watch the thread from this thread; the one that gives up
      // stops watching. The other must still end when the thread dies.
      const patient = tk.kill(h.threadId, { unblock: false, timeoutMs: 40_000 });
      const impatient = await tk.kill(h.threadId, { unblock: false, timeoutMs: 50 });
      assert.strictEqual(impatient.outcome, 'unkillable');
      fifo.release(); // the read returns; the pending stop lands
      const report = await patient;
      assert.strictEqual(report.outcome, 'killed');
      // Ends at the death, not at its 40 s timeout.
      assert.ok(report.elapsedMs < 20_000, `resolved after ${report.elapsedMs} ms`);
      await h.exited;
    });

    it("a kill() waiting for its first retry keeps the caller's event loop alive, with nothing else to", async () => {
      const fifo = makeFifo();
      const h = hang('fifo-read', { mode: 'kill', data: { fifo: fifo.path } });
      await h.ready;
      await inSyscall(h.threadId, ['read']);
      // The killer's only pending work is the kill: if nothing kept its loop
      // alive through the first retry interval, it would exit without a report.
      const killer = fixtureWorker('kill', { target: h.threadId });
      const first = await Promise.race([killer.next(), killer.exited.then((code) => `exited (${code}) without a report`)]);
      assert.strictEqual(first, 'unkillable');
      await killer.exited;
      fifo.release(); // the read returns; the stop that was left pending lands
      await h.exited;
    });
  });

  it('1,000 rounds of kill() racing the natural exit: every promise settles, outcomes consistent @soak @sanitize', async function () {
    this.timeout(240_000);
    const outcomes = { killed: 0, 'already-exited': 0, unkillable: 0 };
    const ROUNDS = 1000;
    const CONCURRENCY = 4;
    let next = 0;
    async function lane(): Promise<void> {
      while (next < ROUNDS) {
        const i = next++;
        const w = new tk.KillableWorker('0', { eval: true });
        const exited = new Promise((resolve) => w.once('exit', resolve));
        // Vary the moment of the kill relative to the exit.
        for (let k = 0; k < i % 7; k++) await new Promise((r) => setImmediate(r));
        const report = await (i % 2 === 0 ? tk.kill(w) : sibling.run<tk.KillReport>('kill', w.originalThreadId));
        outcomes[report.outcome]++;
        await exited;
        assert.notStrictEqual(report.outcome, 'unkillable');
        assert.ok(!isLive(w.originalThreadId));
        // A later kill always agrees that the thread is gone.
        assert.strictEqual((await tk.kill(w.originalThreadId)).outcome, 'already-exited');
      }
    }
    await Promise.all(Array.from({ length: CONCURRENCY }, lane));
    assert.strictEqual(outcomes.killed + outcomes['already-exited'], ROUNDS);
  });
});
