// The unblock rung: threads blocked in read-type system calls and in
// spawnSync/execSync die when killed, from the main thread, a parent worker
// and a sibling; what no signal can end stays unkillable and is diagnosed;
// nothing that is not being killed is ever signalled.
import * as assert from 'assert';
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { Worker } from 'worker_threads';
import * as tk from 'thread-kill';
import { inNativeCode, inSyscall, releaseUnkillable, scenarioByName, startHung } from 'thread-kill/stress';
import { FIXTURE_ADDON, LIB, ROOT, STRESS_LIB, SiblingKiller, fixturePath, isLive, makeFifo, until } from './helpers';
import { orphaned } from './fixtures/workers/common';

// The private binding, for the checks only native code can make.
const native = require(path.join(ROOT, 'lib', 'shared', 'native.js')).native as {
  unblockSignal(threadId: number): number;
  unblockArm(threadId: number, testStartTime?: number): boolean;
};
const NOT_KILLED = 3;
const READS = ['read', 'pread64', 'readv', 'recvfrom', 'recvmsg'];
const CHILD_WAITS = ['epoll_wait', 'epoll_pwait', 'epoll_pwait2'];

/** test/fixtures/workers/unblock.ts: the programs of this file. */
const UNBLOCK = fixturePath('unblock');

interface Case {
  title: string;
  /** The unblock fixture's program: it posts 'ready' just before it blocks. */
  program: string;
  syscalls: string[];
  expect: 'signalled' | 'children-killed' | 'wait-satisfied';
  /** Fresh workerData per run, and what to undo after. */
  setup?: () => { data: Record<string, unknown>; done: () => void };
  /** The phase's note. */
  note: RegExp;
  /** Blocked is not enough: also wait until this holds (e.g. the shell exited, leaving its orphan). */
  settle?: 'orphaned';
  /** For 'children-killed': checks the processes killed (default: the shell and its sleep). */
  kids?: (kids: tk.UnblockDetails['childrenKilled']) => void;
}

const OPENS = ['open', 'openat'];
const shellAndSleep = (kids: tk.UnblockDetails['childrenKilled']): void => {
  assert.ok(kids.length >= 2, JSON.stringify(kids)); // the shell and its child(ren)
  assert.ok(kids.some((k) => /sleep 3[01]/.test(k.cmdline)), JSON.stringify(kids));
};
/** The one child process spawnSync started (no shell), and nothing else (not the async helper). */
const sleepOnly = (kids: tk.UnblockDetails['childrenKilled']): void => {
  assert.deepStrictEqual(kids.map((k) => [k.cmdline, k.why]), [['sleep 30', "the child process the thread's spawnSync/execSync started"]]);
};

const fifoCase = (): { data: Record<string, unknown>; done: () => void } => {
  const f = makeFifo();
  return { data: { fifo: f.path }, done: () => fs.rmSync(path.dirname(f.path), { recursive: true, force: true }) };
};

const KILLABLE: Case[] = [
  {
    title: 'readSync on a silent FIFO', syscalls: READS, expect: 'signalled', setup: fifoCase, note: /SIGRTMIN\+3 to the thread/,
    program: 'fifo-read',
  },
  {
    title: 'readFileSync of a FIFO with an open silent writer', syscalls: READS, expect: 'signalled', setup: fifoCase, note: /SIGRTMIN\+3 to the thread/,
    program: 'fifo-read-file',
  },
  {
    title: 'recv() on a socketpair (fixture addon)', syscalls: READS, expect: 'signalled', note: /SIGRTMIN\+3 to the thread/,
    setup: () => ({ data: { addon: FIXTURE_ADDON }, done: () => undefined }),
    program: 'recv',
  },
  {
    title: "execSync('sleep 30')", syscalls: CHILD_WAITS, expect: 'children-killed', note: /killed child processes/,
    program: 'exec-sleep', kids: shellAndSleep,
  },
  {
    title: 'spawnSync of a shell whose grandchild holds the pipes', syscalls: CHILD_WAITS, expect: 'children-killed', note: /killed child processes/,
    program: 'spawn-grandchild', kids: shellAndSleep,
  },
  {
    title: "execSync('sleep 25 & echo started'): the orphaned sleep holds the pipes", syscalls: CHILD_WAITS, expect: 'children-killed',
    note: /killed the holders of its pipes \d+ \(sleep 25: held the stdout and stderr pipes of the thread's spawnSync\/execSync\)/,
    program: 'exec-orphan', settle: 'orphaned',
    kids: (kids) => assert.deepStrictEqual(kids.map((k) => [k.cmdline, k.why]), [['sleep 25', "held the stdout and stderr pipes of the thread's spawnSync/execSync"]]),
  },
  {
    title: "execSync('sleep 30') in a thread with a newer async spawn() child: only the sync child dies", syscalls: CHILD_WAITS,
    expect: 'children-killed', note: /killed child processes \d+ \(/, program: 'exec-helper', kids: shellAndSleep,
  },
  {
    title: "spawnSync('sleep', { stdio: 'inherit' }) (no pipes) in a thread with an async spawn() child: only the sync child dies",
    syscalls: CHILD_WAITS, expect: 'children-killed', note: /killed child processes \d+ \(sleep 30\)/, program: 'spawn-inherit-helper', kids: sleepOnly,
  },
  {
    title: 'openSync of a FIFO for reading, no writer', syscalls: OPENS, expect: 'wait-satisfied', setup: fifoCase,
    note: /opened the write end of FIFO \S+ \(and closed it\) so that its openat?\(\) returned/, program: 'fifo-open-read',
  },
  {
    title: 'openSync of a FIFO for writing, no reader', syscalls: OPENS, expect: 'wait-satisfied', setup: fifoCase,
    note: /opened the read end of FIFO \S+ \(and closed it\) so that its openat?\(\) returned/, program: 'fifo-open-write',
  },
];

/** True once `pid` is gone or a zombie (killed, waiting for a reaper). */
function processEnded(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) === 'Z';
  } catch {
    return true;
  }
}

async function assertUnblocked(c: Case, r: tk.KillReport, messages: unknown[]): Promise<void> {
  assert.strictEqual(r.outcome, 'killed', JSON.stringify(r));
  const u = r.phases.find((p) => p.phase === 'unblock');
  assert.ok(u, `an unblock phase: ${JSON.stringify(r.phases)}`);
  assert.strictEqual(u.result, c.expect, JSON.stringify(u));
  assert.strictEqual(u.unblock!.signal, 'SIGRTMIN+3');
  if (c.expect === 'signalled') {
    assert.ok(u.unblock!.signalsSent >= 1 && u.unblock!.signalsSent <= 6, JSON.stringify(u));
    assert.deepStrictEqual(u.unblock!.childrenKilled, []);
  } else if (c.expect === 'wait-satisfied') {
    assert.strictEqual(u.unblock!.signalsSent, 0);
    assert.deepStrictEqual(u.unblock!.childrenKilled, []);
    assert.strictEqual(u.unblock!.waitsSatisfied.length, 1, JSON.stringify(u));
  } else {
    assert.strictEqual(u.unblock!.signalsSent, 0);
    const kids = u.unblock!.childrenKilled;
    c.kids!(kids);
    for (const k of kids) await until(() => processEnded(k.pid), `child ${k.pid} to end`);
  }
  assert.match(u.note!, c.note);
  // The termination landed before any user code after the call ran.
  assert.ok(!messages.includes('returned'), JSON.stringify(messages));
  // An asynchronous spawn() child of the thread is never touched.
  for (const m of messages) {
    const helper = (m as { helper?: number }).helper;
    if (helper === undefined) continue;
    assert.ok(!processEnded(helper), `the async child ${helper} survived`);
    process.kill(helper, 'SIGKILL');
  }
}

/** A KillableWorker in `c`, started here, blocked in its call. */
async function startBlocked(c: Case): Promise<{ w: tk.KillableWorker; messages: unknown[]; exited: Promise<number>; done: () => void }> {
  const s = c.setup?.() ?? { data: {}, done: () => undefined };
  const w = new tk.KillableWorker(UNBLOCK, { workerData: { case: c.program, ...s.data } });
  const messages: unknown[] = [];
  const exited = new Promise<number>((resolve) => w.once('exit', resolve));
  await new Promise<void>((resolve) => w.on('message', (m) => { messages.push(m); if (m === 'ready') resolve(); }));
  await inSyscall(w.threadId, c.syscalls);
  if (c.settle === 'orphaned') await orphaned(w.threadId);
  return { w, messages, exited, done: s.done };
}

/** A worker that starts the target itself, waits until it blocks, kills it and reports. */
function killFromParent(c: Case, options: tk.KillOptions = {}): Promise<{ report: tk.KillReport; messages: unknown[]; live: boolean }> {
  const s = c.setup?.() ?? { data: {}, done: () => undefined };
  const w = new Worker(UNBLOCK, { workerData: { case: 'parent', target: { case: c.program, ...s.data }, syscalls: c.syscalls, settle: c.settle, options } });
  return new Promise((resolve, reject) => {
    w.once('message', (m) => { s.done(); resolve(m); });
    w.once('error', reject);
  });
}

describe('the unblock rung: killable system calls', () => {
  let sibling: SiblingKiller;
  before(async () => { sibling = new SiblingKiller(); await sibling.ready; });
  after(() => sibling.close());

  for (const c of KILLABLE) {
    describe(c.title, () => {
      it('is killed from the main thread', async () => {
        const t = await startBlocked(c);
        const r = await tk.kill(t.w);
        await t.exited;
        t.done();
        await assertUnblocked(c, r, t.messages);
        assert.ok(!isLive(t.w.originalThreadId));
      });

      it('is killed from its parent worker', async () => {
        const { report, messages, live } = await killFromParent(c);
        assert.strictEqual(live, false);
        await assertUnblocked(c, report, messages);
      });

      it('is killed from a sibling worker', async () => {
        const t = await startBlocked(c);
        const r = await sibling.run<tk.KillReport>('kill', t.w.threadId);
        await t.exited;
        t.done();
        await assertUnblocked(c, r, t.messages);
      });
    });
  }

  it("async spawn() children of other threads (the killer's, a bystander worker's) survive a kill of a thread in execSync @sanitize", async () => {
    const mine = spawn('sleep', ['45'], { stdio: 'ignore' });
    const other = new tk.KillableWorker(UNBLOCK, { workerData: { case: 'async-child' } });
    const theirs = await new Promise<number>((resolve) => other.once('message', (m) => resolve(m.helper)));
    try {
      const t = await startBlocked(KILLABLE.find((c) => c.program === 'exec-sleep')!);
      const r = await tk.kill(t.w);
      await t.exited;
      assert.strictEqual(r.outcome, 'killed');
      const killed = r.phases.find((p) => p.phase === 'unblock')!.unblock!.childrenKilled.map((k) => k.pid);
      assert.ok(!killed.includes(mine.pid!) && !killed.includes(theirs), JSON.stringify(killed));
      assert.ok(!processEnded(mine.pid!), "the killer's own async child survived");
      assert.ok(!processEnded(theirs), "the bystander worker's async child survived");
    } finally {
      mine.kill('SIGKILL');
      process.kill(theirs, 'SIGKILL');
      await tk.kill(other);
    }
  });

  it('killChildren: false on a thread whose pipes an orphan holds: unkillable, and the diagnosis names the holder and why @sanitize', async () => {
    const t = await startBlocked(KILLABLE.find((c) => c.program === 'exec-orphan')!);
    const r = await tk.kill(t.w, { killChildren: false, timeoutMs: 150, onUnkillable: 'abandon' });
    assert.strictEqual(r.outcome, 'unkillable');
    const holder = r.diagnosis!.children!.find((c) => c.cmdline === 'sleep 25')!;
    assert.strictEqual(holder.why, "held the stdout and stderr pipes of the thread's spawnSync/execSync");
    assert.match(r.diagnosis!.summary, /waiting for the end of its pipes, held by \d+ \(sleep 25: held the stdout and stderr pipes/);
    assert.match(r.diagnosis!.remedy!, /kills their process trees and the holders of its pipes/);
    assert.doesNotMatch(r.diagnosis!.remedy!, /exitNow/); // it would leave the orphan running
    process.kill(holder.pid, 'SIGKILL');
    await t.exited;
  });

  it('readSync(0) with stdin a silent pipe, in a child process: killed from the main thread, a parent worker and a sibling', async () => {
    const stress = JSON.stringify(STRESS_LIB);
    const lib = JSON.stringify(LIB);
    const proc = spawn(process.execPath, ['-e', `
      const tk = require(${lib});
      const { Worker } = require('worker_threads');
      const { startHung, scenarioByName, inSyscall } = require(${stress});
      const scenario = scenarioByName('stdin-read');
      const phase = (r) => r.phases.find((p) => p.phase === 'unblock');
      const summary = (r) => ({ outcome: r.outcome, unblock: phase(r) && phase(r).result });
      (async () => {
        const out = {};
        let h = startHung(scenario, { mode: 'kill' });
        await h.ready; await inSyscall(h.threadId, ['read']);
        out.main = summary(await tk.kill(h.worker)); await h.exited;
        const killer = (workerData) => new Promise((resolve, reject) => {
          const w = new Worker(${JSON.stringify(UNBLOCK)}, { workerData });
          w.once('message', resolve); w.once('error', reject);
        });
        out.parent = await killer({ case: 'stdin-parent' });
        h = startHung(scenario, { mode: 'kill' });
        await h.ready; await inSyscall(h.threadId, ['read']);
        const tid = h.threadId;
        out.sibling = await killer({ case: 'kill-summary', target: tid });
        await h.exited;
        console.log(JSON.stringify(out));
      })();
    `], { stdio: ['pipe', 'pipe', 'inherit'] });
    let out = '';
    proc.stdout!.on('data', (d) => { out += d; });
    const code = await new Promise((resolve) => proc.once('exit', resolve));
    proc.stdin!.destroy();
    assert.strictEqual(code, 0);
    const expected = { outcome: 'killed', unblock: 'signalled' };
    assert.deepStrictEqual(JSON.parse(out), { main: expected, parent: expected, sibling: expected });
  });

  it('unblock: false and killChildren: false leave the thread in its call (and say so)', async () => {
    const t = await startBlocked(KILLABLE[0]);
    const r = await tk.kill(t.w, { unblock: false, timeoutMs: 150 });
    assert.strictEqual(r.outcome, 'unkillable');
    const u = r.phases.find((p) => p.phase === 'unblock')!;
    assert.strictEqual(u.result, 'skipped');
    assert.strictEqual(u.unblock!.signalsSent, 0);
    assert.match(u.note!, /unblock is false/);
    assert.strictEqual(r.diagnosis!.syscall!.name, 'read');
    // Still blocked, still doomed: the thread dies once the read returns.
    const wfd = fs.openSync(r.diagnosis!.syscall!.fdTarget!, fs.constants.O_WRONLY | fs.constants.O_NONBLOCK);
    fs.writeSync(wfd, 'x');
    fs.closeSync(wfd);
    await t.exited;
    assert.ok(!t.messages.includes('returned'));
    t.done();

    const e = await startBlocked(KILLABLE[3]);
    const r2 = await tk.kill(e.w, { killChildren: false, timeoutMs: 150, onUnkillable: 'abandon' });
    assert.strictEqual(r2.outcome, 'unkillable');
    const u2 = r2.phases.find((p) => p.phase === 'unblock')!;
    assert.strictEqual(u2.result, 'skipped');
    assert.match(u2.note!, /killChildren is false/);
    // The diagnosis names the child it waits for, and what would end it.
    const kids = r2.diagnosis!.children!;
    assert.ok(kids.some((k) => k.cmdline === 'sleep 30'), JSON.stringify(kids));
    assert.match(r2.diagnosis!.summary, /waiting for child processes \d+ \(\/bin\/sh -c sleep 30\)/);
    assert.match(r2.diagnosis!.remedy!, /kills their process trees/);
    for (const k of kids) process.kill(k.pid, 'SIGKILL');
    await e.exited;
  });
});

describe('no child process outlives the process', () => {
  /** A child process with a worker in execSync('sleep 30'); `then` runs once it waits, with `pids` (its child tree) in scope. */
  async function run(then: string): Promise<{ code: number | null; pids: number[]; stderr: string }> {
    const proc = spawn(process.execPath, ['-e', `
      const tk = require(${JSON.stringify(LIB)});
      const { inSyscall } = require(${JSON.stringify(STRESS_LIB)});
      const fs = require('fs');
      const e = new tk.KillableWorker(${JSON.stringify(UNBLOCK)}, { workerData: { case: 'exec-sleep-quiet' } });
      e.once('message', async () => {
        await inSyscall(e.threadId, ${JSON.stringify(CHILD_WAITS)});
        let d;
        do d = await tk.diagnose(e, { sampleMs: 10 }); while (!d.children || !d.children.some((c) => c.cmdline === 'sleep 30'));
        const pids = d.children.map((c) => c.pid);
        console.log(JSON.stringify(pids));
        ${then}
      });
    `], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let stderr = '';
    proc.stdout!.on('data', (d) => { out += d; });
    proc.stderr!.on('data', (d) => { stderr += d; });
    const code = await new Promise<number | null>((resolve) => proc.once('exit', resolve));
    assert.match(out, /^\[[\d,]+\]\n/, `stdout ${out}, stderr ${stderr}`);
    return { code, pids: JSON.parse(out.split('\n')[0]), stderr };
  }

  it('exitNow() kills the child process trees of threads left in execSync', async () => {
    const r = await run('tk.exitNow(4);');
    assert.strictEqual(r.code, 4, r.stderr);
    assert.ok(r.pids.length >= 2, JSON.stringify(r.pids));
    for (const pid of r.pids) await until(() => processEnded(pid), `child ${pid} to end`);
  });

  it("kill(..., { onUnkillable: 'exit' }) of another thread does too", async () => {
    const fifo = makeFifo();
    try {
      const r = await run(`
        const a = new tk.KillableWorker(${JSON.stringify(UNBLOCK)}, { workerData: { case: 'fifo-block', fifo: ${JSON.stringify(fifo.path)} } });
        a.once('message', async () => {
          await inSyscall(a.threadId, ['read']);
          tk.kill(a, { timeoutMs: 100, onUnkillable: 'exit', exitCode: 9, unblock: false });
        });`);
      assert.strictEqual(r.code, 9, r.stderr);
      assert.match(r.stderr, /could not be killed \(blocked in native code, in read\(\)/);
      for (const pid of r.pids) await until(() => processEnded(pid), `child ${pid} to end`);
    } finally {
      fs.rmSync(path.dirname(fifo.path), { recursive: true, force: true });
    }
  });

  it('exitNow(code, { killChildren: false }) leaves them (and the caller can)', async () => {
    const r = await run('tk.exitNow(5, { killChildren: false });');
    assert.strictEqual(r.code, 5, r.stderr);
    const sleeper = r.pids.find((pid) => !processEnded(pid));
    assert.ok(sleeper !== undefined, 'the sleep outlived the process');
    for (const pid of r.pids) { try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } }
  });
});

describe('the unblock rung: what it cannot end', () => {
  const UNKILLABLE = ['pipe-write', 'pbkdf2'];
  let sibling: SiblingKiller;
  before(async () => { sibling = new SiblingKiller(); await sibling.ready; });
  after(() => sibling.close());

  for (const name of UNKILLABLE) {
    for (const killer of ['main', 'sibling']) {
      it(`${name} stays unkillable, correctly diagnosed, and dies once its call returns (killed from ${killer === 'main' ? 'the main thread' : 'a sibling'})`, async () => {
        const s = scenarioByName(name) as unknown as { blockedIn: string; syscall?: string[] };
        const h = startHung(scenarioByName(name), { mode: 'kill' });
        const fifo = name === 'pbkdf2' ? undefined : (await h.next('fifo')).path as string;
        await h.ready;
        if (s.syscall) await inSyscall(h.threadId, s.syscall);
        else await inNativeCode(h.threadId, 200); // a JS thread on a loaded machine can be off-CPU for 50 ms
        const options = { timeoutMs: 150 };
        const r = killer === 'main' ? await tk.kill(h.worker, options) : await sibling.run<tk.KillReport>('kill', h.threadId, options);
        assert.strictEqual(r.outcome, 'unkillable', JSON.stringify(r.phases));
        const d = r.diagnosis!;
        assert.strictEqual(d.blockedIn, s.blockedIn, d.summary);
        if (s.syscall) assert.ok(s.syscall.includes(d.syscall!.name), d.summary);
        assert.match(d.remedy!, /nothing inside this process can stop it/);
        assert.match(d.remedy!, /exitNow\(\)/);
        assert.match(d.remedy!, /child process/);
        const u = r.phases.find((p) => p.phase === 'unblock')!;
        assert.strictEqual(u.result, 'skipped');
        assert.strictEqual(u.unblock!.signalsSent, 0);
        assert.match(u.note!, s.syscall ? /which no signal interrupts/ : /not blocked in a system call/);
        if (name === 'pipe-write') {
          // Why nothing ends it, and no remedy that would not work (no signal, no draining).
          assert.match(d.remedy!, /^write\(\) to a pipe or socket whose reader is not reading: no signal ends it \(libuv repeats the write/);
          assert.match(d.remedy!, /emptying the pipe would take data from its reader/);
          assert.match(u.note!, /emptying its pipe would take data from its reader/);
        }
        await releaseUnkillable(name, fifo, h.exited);
        await h.exited;
        assert.ok(!isLive(h.threadId));
      });
    }
  }
});

describe('the unblock rung: safety', () => {
  it('a bystander blocked in readSync on another FIFO while a neighbour is killed gets its data, never EINTR (100 rounds) @sanitize', async function () {
    this.timeout(120_000);
    const mine = makeFifo();
    const theirs = makeFifo();
    // Registered (a KillableWorker), so it is in the very registry the kills search.
    const bystander = new tk.KillableWorker(UNBLOCK, { workerData: { case: 'bystander', fifo: mine.path } });
    const got: Array<Record<string, unknown>> = [];
    const waiting: Array<(m: Record<string, unknown>) => void> = [];
    bystander.on('message', (m) => { const w = waiting.shift(); if (w) w(m); else got.push(m); });
    const next = (): Promise<Record<string, unknown>> => (got.length ? Promise.resolve(got.shift()!) : new Promise((r) => waiting.push(r)));
    assert.deepStrictEqual(await next(), { up: true });
    const wfd = fs.openSync(mine.path, fs.constants.O_WRONLY | fs.constants.O_NONBLOCK);
    try {
      for (let i = 0; i < 100; i++) {
        const neighbour = new tk.KillableWorker(UNBLOCK, { workerData: { case: 'fifo-block', fifo: theirs.path } });
        await new Promise((r) => neighbour.once('message', r));
        await inSyscall(neighbour.threadId, ['read']);
        await inSyscall(bystander.threadId, ['read']);
        const r = await tk.kill(neighbour);
        assert.strictEqual(r.outcome, 'killed');
        assert.ok(r.phases.some((p) => p.phase === 'unblock' && p.result === 'signalled'), JSON.stringify(r.phases));
        const ch = String.fromCharCode(97 + (i % 16));
        fs.writeSync(wfd, ch);
        assert.deepStrictEqual(await next(), { n: 1, data: ch }, `round ${i}`);
      }
      fs.writeSync(wfd, 'q');
      assert.deepStrictEqual(await next(), { n: 1, data: 'q' });
    } finally {
      fs.closeSync(wfd);
    }
    await new Promise((r) => bystander.once('exit', r));
    assert.deepStrictEqual(got, []);
  });

  it('native code never signals a thread that is not being killed (no EINTR in user code)', async () => {
    const fifo = makeFifo();
    const t = await startBlocked({ ...KILLABLE[0], setup: () => ({ data: { fifo: fifo.path }, done: () => undefined }) });
    assert.strictEqual(native.unblockSignal(t.w.threadId), NOT_KILLED);
    assert.strictEqual(native.unblockSignal(t.w.threadId), NOT_KILLED);
    fifo.release();
    await until(() => t.messages.includes('returned'), 'the read to return normally');
    await t.exited;
  });

  it('no signal reaches a thread whose OS thread id names another thread (start time check)', async () => {
    const fifo = makeFifo();
    const t = await startBlocked({ ...KILLABLE[0], setup: () => ({ data: { fifo: fifo.path }, done: () => undefined }) });
    // Pretend the OS thread id was reused: the identity recorded for it is another thread's.
    const stat = fs.readFileSync(`/proc/self/task/${tk.threadInfo(t.w.threadId)!.osTid}/stat`, 'utf8');
    const start = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]);
    assert.ok(native.unblockArm(t.w.threadId, start + 1));
    const r = await tk.kill(t.w, { timeoutMs: 150 });
    assert.strictEqual(r.outcome, 'unkillable');
    const u = r.phases.find((p) => p.phase === 'unblock')!;
    assert.strictEqual(u.unblock!.signalsSent, 0);
    assert.match(u.note!, /names another thread/);
    assert.ok(!t.messages.includes('returned'));
    fifo.release(); // the read returns its byte; the pending termination lands
    await t.exited;
    assert.ok(!t.messages.includes('returned'));
  });

  it("a process whose own native code installed a handler for the signal keeps it (child process)", async () => {
    const fifo = makeFifo();
    const proc = spawn(process.execPath, ['-e', `
      const addon = require(${JSON.stringify(FIXTURE_ADDON)});
      if (!addon.installHandler(3)) throw new Error('could not install');
      const tk = require(${JSON.stringify(LIB)});
      const { inSyscall } = require(${JSON.stringify(STRESS_LIB)});
      const w = new tk.KillableWorker(${JSON.stringify(UNBLOCK)}, { workerData: { case: 'fifo-block', fifo: ${JSON.stringify(fifo.path)} } });
      w.once('message', async () => {
        await inSyscall(w.threadId, ['read']);
        const r = await tk.kill(w, { timeoutMs: 150, onUnkillable: 'abandon' });
        const u = r.phases.find((p) => p.phase === 'unblock');
        console.log(JSON.stringify({ outcome: r.outcome, result: u.result, note: u.note, sent: u.unblock.signalsSent, handler: addon.handlerState(3) }));
      });
    `], { stdio: ['ignore', 'pipe', 'inherit'] });
    const exited = new Promise((resolve) => proc.once('exit', resolve));
    let out = '';
    proc.stdout!.on('data', (d) => { out += d; });
    await until(() => out.includes('\n'), 'the child to report');
    // (The child may already be leaving: 'abandon' lets it end without joining the thread.)
    fifo.release();
    const code = await exited;
    assert.strictEqual(code, 0);
    const m = JSON.parse(out);
    assert.strictEqual(m.outcome, 'unkillable');
    assert.strictEqual(m.result, 'skipped');
    assert.strictEqual(m.sent, 0);
    assert.match(m.note, /SIGRTMIN\+3 already has a handler in this process \(someone else's\)/);
    assert.deepStrictEqual(m.handler, { ours: true, dfl: false, restart: true, runs: 0 });
  });

  it('our handler, once installed, has no SA_RESTART and stays installed', async () => {
    const t = await startBlocked(KILLABLE[0]);
    assert.strictEqual((await tk.kill(t.w)).outcome, 'killed');
    await t.exited;
    t.done();
    const state = require(FIXTURE_ADDON).handlerState(3);
    assert.deepStrictEqual(state, { ours: false, dfl: false, restart: false, runs: 0 });
  });

  it('signals racing thread exit: kill() of threads leaving read() by themselves (1,000 rounds) @soak @sanitize', async function () {
    this.timeout(240_000);
    const ROUNDS = 1000;
    let next = 0;
    const outcomes: Record<string, number> = {};
    async function lane(): Promise<void> {
      const fifo = makeFifo();
      const wfd = fs.openSync(fifo.path, fs.constants.O_RDWR);
      const rfd = fs.openSync(fifo.path, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
      try {
        while (next < ROUNDS) {
          const i = next++;
          const w = new tk.KillableWorker(UNBLOCK, { workerData: { case: 'fifo-block', fifo: fifo.path } });
          const exited = new Promise((r) => w.once('exit', r));
          await new Promise((r) => w.once('message', r));
          // Vary when the read returns by itself relative to the kill and its signals.
          const release = (): void => { fs.writeSync(wfd, 'x'); };
          if (i % 4 === 1) release();
          const killing = tk.kill(w, { retryIntervalMs: 1 });
          for (let k = 0; k < i % 5; k++) await new Promise((r) => setImmediate(r));
          if (i % 4 === 2) release();
          // Hammer the native path while the thread dies; it may only ever signal a thread being killed.
          for (let k = 0; k < 3; k++) native.unblockSignal(w.threadId);
          const r = await killing;
          outcomes[r.outcome] = (outcomes[r.outcome] ?? 0) + 1;
          await exited;
          assert.ok(!isLive(w.originalThreadId));
          assert.notStrictEqual(native.unblockSignal(w.originalThreadId), 1);
          // A byte nobody read (the thread died first): drain it for the next round.
          if (i % 4 === 1 || i % 4 === 2) {
            try { fs.readSync(rfd, Buffer.alloc(16)); } catch { /* EAGAIN: the thread read it */ }
          }
        }
      } finally {
        fs.closeSync(wfd);
        fs.closeSync(rfd);
        fs.rmSync(path.dirname(fifo.path), { recursive: true, force: true });
      }
    }
    await Promise.all([lane(), lane()]);
    assert.strictEqual((outcomes.killed ?? 0) + (outcomes['already-exited'] ?? 0), ROUNDS, JSON.stringify(outcomes));
  });
});
