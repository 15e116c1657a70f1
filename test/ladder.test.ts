import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tk from 'thread-kill';
import { inSyscall } from 'thread-kill/stress';
import { FIXTURE_ADDON, fixtureWorker, hang, isLive, makeFifo } from './helpers';

/** A KillableWorker running program `name` of test/fixtures/workers/ladder.ts. */
const start = (name: string, data: Record<string, unknown> = {}) => fixtureWorker('ladder', { case: name, ...data }, tk.KillableWorker);

const results = (r: tk.KillReport): string[] => r.phases.map((p) => `${p.phase}:${p.result}`);

describe('the kill ladder', () => {
  it('a busy JS loop skips the cooperative phases at once', async () => {
    const h = hang('busy-loop', { mode: 'kill' });
    await h.ready;
    const r = await tk.kill(h.worker);
    assert.deepStrictEqual(results(r), ['cooperative:skipped', 'interrupt:skipped', 'terminate:killed']);
    assert.match(r.phases[0].note!, /no stop token/);
    for (const p of r.phases) assert.ok(p.startMs >= 0 && p.durationMs >= 0);
  });

  it('1. cooperative: a thread with a stop token runs its onKill hooks and exits', async () => {
    const t = start('hooks-idle');
    assert.strictEqual(await t.next(), 'ready');
    const r = await tk.kill(t.w, { reason: 'shutdown', graceMs: 5000 });
    assert.deepStrictEqual(results(r), ['cooperative:exited']);
    assert.deepStrictEqual(await t.next(), { hook: 'shutdown' });
    assert.deepStrictEqual(t.messages, []);
    await t.exited;
  });

  it('1. cooperative: a loop polling its token stops by itself', async () => {
    const h = hang('busy-loop', { mode: 'stop' });
    await h.ready;
    const r = await tk.kill(h.threadId, { graceMs: 5000 });
    assert.deepStrictEqual(results(r), ['cooperative:exited']);
    await h.exited;
  });

  it('1. cooperative: a thread that ignores its token gets the rest of the ladder after graceMs', async () => {
    const t = start('ignores-token');
    assert.strictEqual(await t.next(), 'ready');
    const r = await tk.kill(t.w, { graceMs: 30 });
    assert.deepStrictEqual(results(r), ['cooperative:grace-expired', 'interrupt:skipped', 'terminate:killed']);
    assert.ok(r.phases[0].durationMs >= 25);
  });

  it('2. interrupt: the onKill hooks run at the region boundary, then catch/finally run, then the thread stops', async () => {
    const t = start('hook-region');
    assert.strictEqual(await t.next(), 'ready');
    // The token is observed (onKill) but the loop never yields: phase 1 times out.
    const r = await tk.kill(t.w, { graceMs: 500 });
    assert.deepStrictEqual(results(r), ['cooperative:grace-expired', 'interrupt:exited']);
    assert.deepStrictEqual([await t.next(), await t.next(), await t.next()], ['hook', 'caught ERR_THREAD_INTERRUPTED', 'finally']);
    await t.exited;
  });

  it('cleanup runs exactly once per kill(), also racing natural exits with 4 concurrent killers (1,000 rounds) @soak @sanitize', async function () {
    this.timeout(240_000);
    const ROUNDS = 1000;
    let next = 0;
    async function lane(): Promise<void> {
      while (next < ROUNDS) {
        const i = next++;
        const w = new tk.KillableWorker(i % 3 === 0 ? 'for (;;) {}' : '0', { eval: true });
        const counts = [0, 0, 0, 0];
        const reports = await Promise.all(counts.map((_, k) => tk.kill(w, { cleanup: (rep) => { counts[k]++; assert.strictEqual(rep.threadId, w.originalThreadId); } })));
        assert.deepStrictEqual(counts, [1, 1, 1, 1]);
        for (const r of reports) assert.ok(r.outcome === 'killed' || r.outcome === 'already-exited');
        await w.join();
      }
    }
    await Promise.all([lane(), lane(), lane(), lane()]);
  });

  it('a cleanup that throws is reported, not thrown', async () => {
    const h = hang('busy-loop', { mode: 'kill' });
    await h.ready;
    const r = await tk.kill(h.worker, { cleanup: () => { throw new Error('boom'); } });
    assert.strictEqual(r.outcome, 'killed');
    assert.strictEqual((r.cleanupError as Error).message, 'boom');
  });

  it("other addons' environment cleanup hooks still run on a hard stop (fixture addon)", async () => {
    const marker = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'tk-marker-')), 'ran');
    const t = start('cleanup-marker', { addon: FIXTURE_ADDON, marker });
    assert.strictEqual(await t.next(), 'ready');
    assert.strictEqual((await tk.kill(t.w)).outcome, 'killed');
    await t.exited;
    assert.strictEqual(fs.readFileSync(marker, 'utf8'), 'cleanup-ran\n');
  });
});

describe('why won\'t it die? (diagnosis)', () => {
  it('blocked in sleep() in C: unkillable in time, diagnosed as a syscall, and dies once the call returns', async () => {
    const t = start('sleep-then-loop', { addon: FIXTURE_ADDON, ms: 1500 });
    assert.strictEqual(await t.next(), 'ready');
    await inSyscall(t.w.threadId, ['nanosleep', 'clock_nanosleep']);
    const r = await tk.kill(t.w, { timeoutMs: 200 });
    assert.strictEqual(r.outcome, 'unkillable');
    const d = r.diagnosis!;
    assert.strictEqual(d.blockedIn, 'syscall', d.summary);
    assert.strictEqual(d.servicingInterrupts, false);
    assert.match(d.syscall!.name, /nanosleep/);
    assert.ok(d.cpuMs! < 100, `cpu ${d.cpuMs}`);
    assert.match(d.summary, /blocked in native code, in (clock_)?nanosleep\(\)/);
    assert.deepStrictEqual(d.unavailable, []);
    // The stop stays requested: it lands as soon as the native call returns.
    assert.strictEqual(await t.exited, 1);
    assert.ok(!isLive(t.w.originalThreadId));
  });

  it('blocked in read() on a pipe: names the syscall, the fd and the pipe', async () => {
    const fifo = makeFifo();
    const t = start('read-fd', { addon: FIXTURE_ADDON, fifo: fifo.path });
    const fd = await t.next();
    try {
      await inSyscall(t.w.threadId, ['read']);
      const r = await tk.kill(t.w, { timeoutMs: 150, unblock: false });
      const d = r.diagnosis!;
      assert.strictEqual(r.outcome, 'unkillable');
      assert.strictEqual(d.syscall?.name, 'read');
      assert.strictEqual(d.syscall?.fd, fd);
      assert.strictEqual(d.syscall?.fdTarget, fifo.path);
      assert.ok(d.summary.includes(`in read() on fd ${fd} (${fifo.path})`), d.summary);
      assert.ok(['S', 'D'].includes(d.state!));
    } finally {
      fifo.release();
    }
    await t.exited;
  });

  it('spinning in C: diagnosed as native-cpu', async () => {
    const t = start('spin', { addon: FIXTURE_ADDON, ms: 1500 });
    assert.strictEqual(await t.next(), 'ready');
    const r = await tk.kill(t.w, { timeoutMs: 400 });
    assert.strictEqual(r.outcome, 'unkillable');
    assert.strictEqual(r.diagnosis!.blockedIn, 'native-cpu', r.diagnosis!.summary);
    // It used CPU while it was watched (how much depends on how starved the machine is).
    assert.ok(r.diagnosis!.cpuMs! > 0, `cpu ${r.diagnosis!.cpuMs}`);
    assert.match(r.diagnosis!.summary, /spinning in native code/);
    await t.exited;
  });

  it("execSync('sleep'): blocked in native code until the child exits, then killed (row 12)", async () => {
    const h = hang('exec-sync', { mode: 'kill', data: { sleepSeconds: 1 } });
    await h.ready;
    await inSyscall(h.threadId, ['epoll_wait', 'epoll_pwait', 'wait4', 'ppoll', 'poll']);
    const r = await tk.kill(h.threadId, { timeoutMs: 100, killChildren: false });
    assert.strictEqual(r.outcome, 'unkillable');
    assert.strictEqual(r.diagnosis!.blockedIn, 'syscall', r.diagnosis!.summary);
    await h.exited;
  });

  it("onUnkillable 'abandon' unrefs the Worker and keeps retrying until it dies", async () => {
    const t = start('sleep-then-loop', { addon: FIXTURE_ADDON, ms: 400 });
    assert.strictEqual(await t.next(), 'ready');
    await inSyscall(t.w.threadId, ['nanosleep', 'clock_nanosleep']);
    const r = await tk.kill(t.w, { timeoutMs: 50, onUnkillable: 'abandon' });
    assert.strictEqual(r.outcome, 'unkillable');
    assert.strictEqual(r.abandoned, true);
    await t.exited;
  });

  it('diagnose() of a live busy thread says it runs JS', async () => {
    const h = hang('busy-loop', { mode: 'kill' });
    await h.ready;
    const d = await tk.diagnose(h.worker, { sampleMs: 50 });
    assert.strictEqual(d!.blockedIn, 'js', d!.summary);
    assert.strictEqual(d!.servicingInterrupts, true);
    assert.ok(d!.cpuMs! >= 0); // (a starved machine may give it no tick of CPU in 50 ms)
    await tk.kill(h.worker);
    assert.strictEqual(await tk.diagnose(h.threadId), undefined);
  });
});
