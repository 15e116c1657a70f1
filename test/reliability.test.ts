// kill() and interrupt() never hurt the caller or lie: the findings of the
// hostile review, each as the class of bug it revealed.
import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Worker } from 'worker_threads';
import * as tk from 'thread-kill';
import { inSyscall } from 'thread-kill/stress';
import { FIXTURE_ADDON, LIB, SiblingKiller, fixturePath, fixtureWorker, isLive, runChild } from './helpers';

/** test/fixtures/workers/reliability-child.ts: the workers of this file's child processes. */
const CHILD = JSON.stringify(fixturePath('reliability-child'));
const childWorker = (data: Record<string, unknown>): string => `${CHILD}, { workerData: ${JSON.stringify(data)} }`;

/** Fixture test/fixtures/workers/reliability.ts, program `name`, in a KillableWorker or (`Ctor`) another. */
const program = (name: string, data: Record<string, unknown> = {}, Ctor: new (file: string, options: object) => Worker = Worker) =>
  fixtureWorker('reliability', { case: name, ...data }, Ctor);
const killable = (name: string, data: Record<string, unknown> = {}) => fixtureWorker('reliability', { case: name, ...data }, tk.KillableWorker);

/** Records every 'error' a worker emits (an app without a listener would crash on one). */
function errorsOf(w: Worker): unknown[] {
  const errors: unknown[] = [];
  w.on('error', (e) => errors.push(e));
  return errors;
}

const phases = (r: tk.KillReport): string[] => r.phases.map((p) => `${p.phase}:${p.result}`);

describe('reliability: a kill never turns into an error @sanitize', () => {
  let sibling: SiblingKiller;
  before(async () => { sibling = new SiblingKiller(); await sibling.ready; });
  after(() => sibling.close());

  for (const kind of ['KillableWorker', 'plain Worker'] as const) {
    it(`${kind}: an uncaught kill in a top-level region ends the thread quietly, as killed, with exit code 1`, async () => {
      const t = kind === 'KillableWorker'
        ? killable('region')
        : program('region');
      const errors = errorsOf(t.w);
      assert.strictEqual(await t.next(), 'ready');
      const r = await tk.kill(t.w);
      assert.strictEqual(r.outcome, 'killed');
      assert.deepStrictEqual(phases(r), ['cooperative:skipped', 'interrupt:exited']);
      assert.strictEqual(await t.exited, 1);
      assert.deepStrictEqual(errors, []);
    });
  }

  it('the same from a sibling (plain Worker), with exitCode 7 through a KillableWorker', async () => {
    const t = killable('region');
    const errors = errorsOf(t.w);
    assert.strictEqual(await t.next(), 'ready');
    const r = await sibling.run<tk.KillReport>('kill', t.w.threadId, { exitCode: 7 });
    assert.strictEqual(r.outcome, 'killed');
    assert.strictEqual(await t.exited, 7);
    assert.deepStrictEqual(errors, []);
  });

  it('an uncaught kill inside an async function (an unhandled rejection) also ends quietly', async () => {
    const t = killable('async-region');
    const errors = errorsOf(t.w);
    assert.strictEqual(await t.next(), 'ready');
    assert.strictEqual((await tk.kill(t.w)).outcome, 'killed');
    assert.strictEqual(await t.exited, 1);
    assert.deepStrictEqual(errors, []);
  });

  it("the thread's own 'uncaughtException' listener still sees the kill's error", async () => {
    const t = killable('uncaught-listener');
    assert.strictEqual(await t.next(), 'ready');
    assert.strictEqual((await tk.kill(t.w)).outcome, 'killed');
    assert.deepStrictEqual(await t.next(), { seen: 'ERR_THREAD_INTERRUPTED', kill: true });
    assert.strictEqual(await t.exited, 1);
  });
});

describe('reliability: the kill marker is out of band', () => {
  it("a kill's InterruptedError says kill: true and carries exactly the caller's reason", async () => {
    const t = killable('catch-kill');
    assert.strictEqual(await t.next(), 'ready');
    const r = await tk.kill(t.w, { reason: { why: 'shutdown' }, graceMs: 5000 });
    assert.strictEqual(r.outcome, 'killed');
    const m = await t.next();
    assert.deepStrictEqual({ ...m, message: undefined }, { kill: true, reason: { why: 'shutdown' }, isError: true, message: undefined });
    assert.match(m.message, /^killed by thread 0: /);
  });

  it("no reason value makes interrupt() act as a kill: { threadKill: 'kill' } is just a reason", async () => {
    const t = killable('reason-not-kill');
    for (let i = 0; i < 2; i++) {
      assert.strictEqual(await t.next(), 'ready');
      const d = await tk.interrupt(t.w, { threadKill: 'kill', reason: i }, { untilDelivered: true });
      assert.strictEqual(d.delivered, true);
      assert.deepStrictEqual(await t.next(), { kill: false, reason: { threadKill: 'kill', reason: i } });
    }
    assert.strictEqual(await t.next(), 'alive');
    assert.strictEqual(await t.exited, 0);
    assert.deepStrictEqual(t.messages, [], 'no hook ran');
  });
});

describe('reliability: onKill hooks run once, where the kill first finds the thread able to run JS', () => {
  it('a region that catches the kill and goes on computing: the hook runs at the boundary, before the catch', async () => {
    const t = killable('hook-catch');
    assert.strictEqual(await t.next(), 'ready');
    const r = await tk.kill(t.w, { reason: 'bye', graceMs: 500 });
    assert.deepStrictEqual(phases(r), ['cooperative:grace-expired', 'interrupt:grace-expired', 'terminate:killed']);
    assert.deepStrictEqual([await t.next(), await t.next()], [{ hook: 'bye' }, 'caught true']);
    assert.strictEqual(await t.exited, 1);
  });

  it('stop() first, then kill(): the idle thread still runs its hook (the token was already stopped)', async () => {
    const t = killable('hook-stopped');
    assert.strictEqual(await t.next(), 'ready');
    assert.strictEqual((t.w as tk.KillableWorker).stop('please'), true);
    assert.strictEqual(await t.next(), 'stopped');
    const r = await tk.kill(t.w, { reason: 'now', graceMs: 5000 });
    assert.deepStrictEqual(phases(r), ['cooperative:exited']);
    assert.deepStrictEqual(await t.next(), { hook: 'now' });
    assert.strictEqual(await t.exited, 1);
  });

  it('an uncaught top-level region runs the hook (5 rounds), then ends quietly', async () => {
    for (let round = 0; round < 5; round++) {
      const t = killable('hook-region');
      const errors = errorsOf(t.w);
      assert.strictEqual(await t.next(), 'ready');
      // The loop never yields, so the cooperative phase waits out its grace;
      // the interrupt phase ends it (or, on a starved machine, the hard stop).
      const r = await tk.kill(t.w, { graceMs: 500 });
      assert.strictEqual(r.outcome, 'killed');
      assert.strictEqual(phases(r)[0], 'cooperative:grace-expired');
      assert.strictEqual(await t.next(), 'hook');
      assert.strictEqual(await t.exited, 1);
      assert.deepStrictEqual(errors, []);
    }
  });

  it('hooks run exactly once per thread: two kills, a stop token and a region all at once', async () => {
    const t = killable('hook-once');
    assert.strictEqual(await t.next(), 'ready');
    // Grace long enough that a starved machine still lets the thread reach its hooks.
    const [a, b] = await Promise.all([tk.kill(t.w, { graceMs: 1000 }), tk.kill(t.w, { graceMs: 1000 })]);
    assert.strictEqual(a.outcome, 'killed');
    assert.strictEqual(b.outcome, 'killed');
    await t.exited;
    assert.deepStrictEqual([t.messages.shift(), t.messages], ['hook', []]);
  });

  it('two kills at once: the one that finds the region already interrupted by the other waits for its hooks (30 rounds) @soak', async function () {
    this.timeout(180_000);
    // The race: kill A's interrupt stops the region; kill B, a moment later,
    // finds no region and used to terminate the thread in the middle of the
    // hooks A's interrupt was about to run (≈5% of rounds).
    for (let i = 0; i < 30; i++) {
      const t = killable('hook-once');
      assert.strictEqual(await t.next(), 'ready');
      const [a, b] = await Promise.all([tk.kill(t.w, { graceMs: 1000 }), tk.kill(t.w, { graceMs: 1000 })]);
      await t.exited;
      assert.deepStrictEqual([t.messages.shift(), t.messages, a.outcome, b.outcome], ['hook', [], 'killed', 'killed'],
        `round ${i}: ${JSON.stringify([a.phases, b.phases])}`);
    }
  });
});

describe('reliability: no JavaScript runs while the registry mutex is held @sanitize', () => {
  it('an Array.prototype setter that calls threads() cannot deadlock threads() (or anything else)', async () => {
    const r = await runChild(`
      const tk = require(TK);
      let armed = true;
      Object.defineProperty(Array.prototype, '8', { configurable: true, set(v) {
        Object.defineProperty(this, '8', { value: v, writable: true, configurable: true });
        if (armed) { armed = false; tk.threads(); } } });
      Object.defineProperty(Array.prototype, '0', { configurable: true, set(v) {
        Object.defineProperty(this, '0', { value: v, writable: true, configurable: true });
        tk.threads(); } });
      const rows = tk.threads();
      const w = new tk.KillableWorker('for (;;) {}', { eval: true });
      w.once('online', async () => {
        const report = await tk.kill(w);
        console.log(rows.length, report.outcome, tk.threadInfo(0).isMainThread);
      });`, { deadlineMs: 30_000 });
    assert.strictEqual(r.signal, null, `hung: ${r.stderr}`);
    assert.deepStrictEqual([r.code, r.stdout, r.stderr], [0, '1 killed true\n', '']);
  });

  it("a worker spinning in an Array setter (the kind threads() would run with the registry mutex held, if it ran any) does not block another thread's kill()", async () => {
    const t = program('setter-spin');
    assert.strictEqual(await t.next(), 'spinning');
    const victim = killable('busy');
    assert.strictEqual(await victim.next(), 'ready');
    assert.strictEqual((await tk.kill(victim.w)).outcome, 'killed');
    assert.strictEqual((await tk.kill(t.w)).outcome, 'killed');
  });
});

describe('reliability: loading the library twice in one thread', () => {
  it('kill() and interrupt({ untilDelivered }) still settle on time, and nothing keeps the process alive', async () => {
    const r = await runChild(`
      let tk = require(TK);
      const lib = require('path').dirname(TK);
      for (const k of Object.keys(require.cache)) if (k.startsWith(lib)) delete require.cache[k];
      tk = require(TK);
      const w = new tk.KillableWorker(${childWorker({ case: 'region-then-loop' })});
      w.once('message', async () => {
        const t0 = performance.now();
        const d = await tk.interrupt(w, 'x', { untilDelivered: true, timeoutMs: 500 });
        const report = await tk.kill(w, { timeoutMs: 3000 });
        console.log(d.delivered, report.outcome, performance.now() - t0 < 2500);
      });`, { deadlineMs: 30_000 });
    assert.strictEqual(r.signal, null, `hung: ${r.stdout} ${r.stderr}`);
    assert.deepStrictEqual([r.code, r.stdout, r.stderr], [0, 'true killed true\n', '']);
  });

  it('an untilDelivered that times out clears its timers: the process ends by itself (library loaded twice)', async () => {
    const r = await runChild(`
      let tk = require(TK);
      const lib = require('path').dirname(TK);
      for (const k of Object.keys(require.cache)) if (k.startsWith(lib)) delete require.cache[k];
      tk = require(TK);
      const w = new tk.KillableWorker(${childWorker({ case: 'region-sleep', addon: FIXTURE_ADDON })});
      w.once('message', async () => {
        await require(${JSON.stringify(require.resolve('thread-kill/stress'))}).inSyscall(w.threadId, ['nanosleep', 'clock_nanosleep']);
        const d = await tk.interrupt(w, 'x', { untilDelivered: true, timeoutMs: 100 });
        console.log(d.delivered, d.why);
      });`, { deadlineMs: 15_000 });
    assert.strictEqual(r.signal, null, 'a timer or interval kept the process alive');
    assert.deepStrictEqual([r.code, r.stdout.trim(), r.stderr], [0, 'false timeout', '']);
  });
});

describe('reliability: a vm timeout inside a region does not make it deaf @sanitize', () => {
  it('300 interrupts of a region looping over vm timeouts are each delivered, and the answers are true', async function () {
    this.timeout(120_000);
    const t = program('vm-timeouts');
    for (let i = 0; i < 300; i++) {
      assert.strictEqual(await t.next(), 'in');
      const d = await tk.interrupt(t.w, i, { untilDelivered: true, timeoutMs: 20_000, retryIntervalMs: 2 });
      assert.strictEqual(d.delivered, true, `round ${i}: ${JSON.stringify(d)}`);
    }
    assert.strictEqual(await t.next(), 'in');
    assert.strictEqual((await tk.interrupt(t.w, 'leave', { untilDelivered: true, timeoutMs: 20_000, retryIntervalMs: 2 })).delivered, true);
    assert.strictEqual(await t.next(), 300);
    assert.strictEqual(await t.exited, 0);
  });

  // A sandbox loop: each script has its own vm timeout, the batch a deadline. When both fire
  // together, Node's vm timeout cancels our termination along with its own (V8 has one flag) and
  // the user's code goes on: the termination must be fired again, however it was requested.
  it('a deadline whose termination a vm timeout cancels at the same moment still ends its region: 20 sandbox loops with vm timeout = deadline = 20 ms each end with RegionTimeoutError (child process)', async function () {
    this.timeout(120_000);
    const r = await runChild(`
      const tk = require(TK);
      const vm = require('vm');
      const ctx = vm.createContext({});
      const out = [];
      for (let i = 0; i < 20; i++) {
        try {
          tk.interruptible(() => {
            for (;;) {
              try { vm.runInContext('while (true) {}', ctx, { timeout: 20 }); } catch (e) { if (e.code !== 'ERR_SCRIPT_EXECUTION_TIMEOUT') throw e; }
            }
          }, { timeoutMs: 20 });
        } catch (e) { out.push(e.name); }
      }
      console.log(out.join(' '));`, { deadlineMs: 60_000 });
    assert.deepStrictEqual([r.code, r.stdout, r.stderr], [0, `${Array(20).fill('RegionTimeoutError').join(' ')}\n`, '']);
  });

  it("a termination a vm timeout cancelled is fired again only where the landing rule allows: the region went on into AsyncLocalStorage.run(), whose store is restored (child process, inlining off)", async function () {
    this.timeout(120_000);
    // (Inlining off: the documented hole of Node code inlined into a hot loop plays no part.)
    const r = await runChild(`
      const v8 = require('v8');
      v8.setFlagsFromString('--no-turbo-inlining');
      v8.setFlagsFromString('--no-maglev-inlining');
      const tk = require(TK);
      const vm = require('vm');
      const { AsyncLocalStorage } = require('async_hooks');
      const als = new AsyncLocalStorage();
      const ctx = vm.createContext({});
      let leaked = 0;
      const names = new Set();
      for (let i = 0; i < 20; i++) {
        try {
          tk.interruptible(() => {
            try { vm.runInContext('while (true) {}', ctx, { timeout: 20 }); } catch (e) { if (e.code !== 'ERR_SCRIPT_EXECUTION_TIMEOUT') throw e; }
            // On into Node's code: a try/finally of Node's around a callback that spins.
            for (let k = 0; k < 20; k++) als.run({ i }, () => { const t = Date.now(); while (Date.now() - t < 5); });
          }, { timeoutMs: 20 });
        } catch (e) { names.add(e.name); }
        if (als.getStore() !== undefined) { leaked++; als.disable(); }
      }
      console.log([...names].join(), leaked);`, { deadlineMs: 60_000 });
    assert.deepStrictEqual([r.code, r.stdout, r.stderr], [0, 'RegionTimeoutError 0\n', '']);
  });

  it('a plain interrupt() (no untilDelivered) whose termination a vm timeout cancels is still delivered: 100 rounds against a loop of 1 ms vm timeouts', async function () {
    this.timeout(120_000);
    const r = await runChild(`
      const tk = require(TK);
      const { Worker } = require('worker_threads');
      const sab = new SharedArrayBuffer(4);
      const flag = new Int32Array(sab);
      const w = new Worker(\`
        const tk = require(\${JSON.stringify(TK)});
        const vm = require('vm');
        const { parentPort, workerData } = require('worker_threads');
        const flag = new Int32Array(workerData);
        const ctx = vm.createContext({});
        let n = 0;
        for (let i = 1; i <= 100; i++) {
          try {
            tk.interruptible(() => {
              Atomics.store(flag, 0, i); Atomics.notify(flag, 0);
              for (;;) { try { vm.runInContext('while (true) {}', ctx, { timeout: 1 }); } catch (e) { if (e.code !== 'ERR_SCRIPT_EXECUTION_TIMEOUT') throw e; } }
            });
          } catch (e) { if (e.name === 'InterruptedError') n++; }
        }
        parentPort.postMessage(n);\`, { eval: true, workerData: sab });
      w.on('message', (n) => console.log(n));
      (async () => {
        for (let i = 1; i <= 100; i++) {
          // In region i (it cannot leave it until interrupted): one plain interrupt.
          for (let v; (v = Atomics.load(flag, 0)) !== i;) { const a = Atomics.waitAsync(flag, 0, v); if (a.async) await a.value; }
          tk.interrupt(w.threadId, i);
        }
      })();`, { deadlineMs: 60_000 });
    assert.deepStrictEqual([r.code, r.stdout, r.stderr], [0, '100\n', '']);
  });
});

describe('reliability: require() and regions (a delivery waits for Node\'s loader: no module is ever left half-loaded)', () => {
  function moduleDir(files: Record<string, string>): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tk-mods-'));
    for (const [name, content] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), content);
    return dir;
  }

  it('a module whose top level runs the region is not evicted (it began loading before the region)', async () => {
    const dir = moduleDir({
      'm.js': `globalThis.runs = (globalThis.runs || 0) + 1;
        const tk = require(${JSON.stringify(LIB)});
        try { tk.interruptible(() => { tk.interrupt(tk.currentRegion()); for (let i = 0; i < 1e6; i++); }); } catch {}
        module.exports = { ok: true };`,
    });
    const t = program('module-top-level', { dir });
    assert.deepStrictEqual(await t.next(), [true, true, 1]);
  });

  it('a region spinning 80 modules deep in a require() chain: the interrupt waits for the loader however deep (reported deferred); kill() ends it', async () => {
    const files: Record<string, string> = {};
    for (let i = 0; i < 80; i++) files[`d${i}.js`] = i === 79 ? `require('worker_threads').parentPort.postMessage('deep'); for (;;) {}` : `require('./d${i + 1}.js');`;
    const dir = moduleDir(files);
    const t = program('module-chain', { dir });
    assert.strictEqual(await t.next(), 'deep');
    const d = await tk.interrupt(t.w, undefined, { untilDelivered: true, timeoutMs: 200 });
    assert.deepStrictEqual([d.delivered, d.why], [false, 'deferred']);
    assert.strictEqual((await tk.kill(t.w)).outcome, 'killed');
  });

  it('an outer module loading before the region, an inner one that interrupts its own region while it loads: the interrupt lands once the load returned, and both stay cached', async () => {
    const dir = moduleDir({
      'outer.js': `const tk = require(${JSON.stringify(LIB)});
        try { tk.interruptible(() => require('./inner.js')); } catch (e) { module.exports.code = e.code; }
        module.exports.innerCached = Object.keys(require.cache).some((k) => k.endsWith('inner.js'));`,
      'inner.js': `const tk = require(${JSON.stringify(LIB)}); tk.interrupt(tk.currentRegion()); for (let i = 0; i < 1e6; i++);`,
    });
    const t = program('module-outer-inner', { dir });
    assert.deepStrictEqual(await t.next(), ['ERR_THREAD_INTERRUPTED', true, true]);
  });
});

describe("reliability: InterruptedError.reason is always the interrupter's", () => {
  it('a region that throws as it is interrupted: reason stays, its own error is the cause', () => {
    let err: any;
    try {
      tk.interruptible(() => { tk.interrupt(tk.currentRegion()!, { why: 'too slow' }); throw new TypeError('x'); });
    } catch (e) { err = e; }
    assert.ok(err instanceof tk.InterruptedError);
    assert.deepStrictEqual(err.reason, { why: 'too slow' });
    assert.ok(err.cause instanceof TypeError);
    assert.strictEqual(err.cause.message, 'x');
  });

  it('interrupting JSON.parse of bad input from another thread (100 rounds): the reason is never the SyntaxError', async function () {
    this.timeout(60_000);
    const t = program('json-parse');
    for (let i = 0; i < 100; i++) {
      assert.strictEqual(await t.next(), 'in');
      assert.strictEqual((await tk.interrupt(t.w, `r${i}`, { untilDelivered: true })).delivered, true);
      assert.deepStrictEqual(await t.next(), ['string', `r${i}`, true]);
    }
    assert.strictEqual(await t.next(), 'in');
    await tk.interrupt(t.w, 'leave', { untilDelivered: true });
    assert.strictEqual(await t.exited, 0);
  });
});

describe('reliability: over-long reasons are refused before anything happens', () => {
  const long = 'x'.repeat(5000);

  it('kill() with a stop token and cleanup: rejects with ERR_THREAD_KILL_OUT_OF_RANGE, target alive, no watcher, no cleanup', async () => {
    const t = killable('token-idle');
    assert.strictEqual(await t.next(), 'ready');
    let cleaned = 0;
    await assert.rejects(tk.kill(t.w, { reason: long, cleanup: () => { cleaned++; } }),
      (e: any) => e.code === 'ERR_THREAD_KILL_OUT_OF_RANGE' && /options\.reason/.test(e.message));
    const info = tk.threadInfo(t.w.threadId)!;
    assert.deepStrictEqual([info.watchers, info.state, cleaned], [0, 'running', 0]);
    assert.strictEqual(tk.stop(t.w, 'fits'), true, 'the token was not stopped by the rejected kill');
    assert.strictEqual((await tk.kill(t.w)).outcome, 'killed');
  });

  it('kill() without a stop token refuses the same reason (one limit for every call)', async () => {
    const t = killable('busy');
    assert.strictEqual(await t.next(), 'ready');
    await assert.rejects(tk.kill(t.w, { reason: long }), { code: 'ERR_THREAD_KILL_OUT_OF_RANGE' });
    assert.strictEqual(tk.threadInfo(t.w.threadId)!.watchers, 0);
    assert.throws(() => tk.interrupt(t.w, long), { code: 'ERR_THREAD_KILL_OUT_OF_RANGE' });
    assert.throws(() => tk.stop(t.w, long), { code: 'ERR_THREAD_KILL_OUT_OF_RANGE' });
    assert.throws(() => new tk.StopToken().stop(long), { code: 'ERR_THREAD_KILL_OUT_OF_RANGE' });
    assert.strictEqual((await tk.kill(t.w)).outcome, 'killed');
  });

  it('a kill that ends unkillable leaves no watcher behind', async () => {
    const t = killable('addon-sleep', { addon: FIXTURE_ADDON });
    assert.strictEqual(await t.next(), 'ready');
    await inSyscall(t.w.threadId, ['nanosleep', 'clock_nanosleep']);
    const r = await tk.kill(t.w, { timeoutMs: 50 });
    assert.strictEqual(r.outcome, 'unkillable');
    assert.strictEqual(tk.threadInfo(t.w.threadId)?.watchers ?? 0, 0);
    await t.exited;
  });
});

describe('reliability: a KillableWorker hung before it registered', () => {
  const hangFile = (): string => {
    const f = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'tk-pre-')), 'hang.js');
    fs.writeFileSync(f, `if (!require('worker_threads').isMainThread) { require('worker_threads').parentPort.postMessage('preloading'); for (;;) {} }`);
    return f;
  };

  it("a hanging --require preload in execArgv: killed from its parent and from a sibling", async () => {
    const sibling = new SiblingKiller();
    try {
      for (const killer of ['parent', 'sibling'] as const) {
        const w = new tk.KillableWorker('0', { eval: true, execArgv: ['--require', hangFile()] });
        const errors = errorsOf(w);
        await new Promise((resolve) => w.once('message', resolve));
        const r = killer === 'parent' ? await tk.kill(w, { timeoutMs: 5000 }) : await sibling.run<tk.KillReport>('kill', w.threadId, { timeoutMs: 5000 });
        assert.strictEqual(r.outcome, 'killed', `${killer}: ${r.diagnosis?.summary}`);
        assert.strictEqual(await w.join(), true);
        assert.deepStrictEqual(errors, []);
      }
    } finally {
      sibling.close();
    }
  });

  it('`node -r hang.js app.js` (the preload inherited by workers): kill() ends the worker', async () => {
    const r = await runChild(`
      const tk = require(TK);
      const w = new tk.KillableWorker('0', { eval: true });
      w.once('message', async () => { const rep = await tk.kill(w, { timeoutMs: 5000 }); w.once('exit', () => {}); console.log(rep.outcome); });`,
    { args: ['-r', hangFile()], deadlineMs: 30_000 });
    assert.deepStrictEqual([r.code, r.stdout, r.stderr], [0, 'killed\n', '']);
  });
});

describe('reliability: parity with worker.terminate() @sanitize', () => {
  /** Test name: the reliability fixture's program. */
  const SCENARIOS: Record<string, string> = {
    'busy loop': 'busy',
    'idle loop': 'idle',
    'microtask loop': 'microtask',
    'uncaught region': 'region',
    'vm context loop': 'vm',
  };
  for (const [name, fixture] of Object.entries(SCENARIOS)) {
    for (const Ctor of [Worker, tk.KillableWorker]) {
      it(`${name} (${Ctor.name}): kill() and terminate() give the same exit code, 'exit' before the promise, no 'error'`, async () => {
        const seen: Record<string, unknown[]> = {};
        for (const how of ['terminate', 'kill'] as const) {
          const t = program(fixture, {}, Ctor);
          const errors = errorsOf(t.w);
          const order: string[] = [];
          t.w.once('exit', (code) => order.push(`exit ${code}`));
          assert.strictEqual(await t.next(), 'ready');
          if (how === 'terminate') order.push(`resolved ${await t.w.terminate()}`);
          else order.push(`resolved ${(await tk.kill(t.w)).outcome}`);
          seen[how] = [order, errors.length];
        }
        assert.deepStrictEqual(seen.terminate, [['exit 1', 'resolved 1'], 0]);
        assert.deepStrictEqual(seen.kill, [['exit 1', 'resolved killed'], 0]);
      });
    }
  }

  it('KillableWorker#terminate() of an idle worker reports 1 every time (20 rounds)', async () => {
    const codes: number[] = [];
    for (let i = 0; i < 20; i++) {
      const t = killable('idle');
      assert.strictEqual(await t.next(), 'ready');
      codes.push(await t.w.terminate());
      assert.strictEqual(await t.exited, 1);
    }
    assert.deepStrictEqual(codes, Array(20).fill(1));
  });

  it("unref'd workers: kill() keeps the process alive until 'exit' was emitted (5 workers)", async () => {
    const r = await runChild(`
      const tk = require(TK);
      const { Worker } = require('worker_threads');
      for (let i = 0; i < 5; i++) {
        const C = i % 2 ? Worker : tk.KillableWorker;
        const w = new C(${childWorker({ case: 'loaded-busy' })});
        w.on('exit', (code) => console.log('exit', code));
        w.once('message', () => { w.unref(); tk.kill(w); });
      }`, { deadlineMs: 30_000 });
    assert.deepStrictEqual([r.code, r.stdout, r.stderr], [0, 'exit 1\n'.repeat(5), '']);
  });

  it("a Worker whose listener machinery throws: kill() rejects, the thread still dies, and nothing keeps the process alive", async () => {
    const r = await runChild(`
      const tk = require(TK);
      const { Worker } = require('worker_threads');
      const w = new Worker(${childWorker({ case: 'loaded-busy' })});
      w.on('exit', (code) => console.log('exit', code));
      w.once('message', () => {
        w.on('newListener', (event) => { if (event === 'exit') throw new Error('no more exit listeners'); });
        tk.kill(w).then(() => console.log('resolved'), (err) => console.log('rejected:', err.message));
      });`, { deadlineMs: 30_000 });
    assert.deepStrictEqual([r.code, r.stdout, r.stderr], [0, 'rejected: no more exit listeners\nexit 1\n', '']);
  });
});

describe('reliability: the smaller items', () => {
  it("onUnkillable 'abandon' lets the process end normally, with its code and output (loop end and process.exit())", async () => {
    for (const end of ['process.exitCode = 3;', 'process.exit(3);']) {
      const r = await runChild(`
        const tk = require(TK);
        const w = new tk.KillableWorker(${childWorker({ case: 'sleep-30s', addon: FIXTURE_ADDON })});
        w.once('message', async () => {
          await require(${JSON.stringify(require.resolve('thread-kill/stress'))}).inSyscall(w.threadId, ['nanosleep', 'clock_nanosleep']);
          const rep = await tk.kill(w, { timeoutMs: 100, onUnkillable: 'abandon' });
          process.on('exit', () => console.log('exit listener ran'));
          console.log(rep.outcome, rep.abandoned);
          ${end}
        });`, { deadlineMs: 25_000 });
      assert.strictEqual(r.signal, null, `${end} hung joining the abandoned thread`);
      assert.deepStrictEqual([r.code, r.stdout, r.stderr], [3, 'unkillable true\nexit listener ran\n', '']);
    }
  });

  it("onUnkillable 'exit' from a worker writes its stderr line before leaving (5 rounds through a pipe)", async function () {
    this.timeout(120_000);
    for (let i = 0; i < 5; i++) {
      const r = await runChild(`
        const tk = require(TK);
        const { Worker } = require('worker_threads');
        const victim = new tk.KillableWorker(${childWorker({ case: 'sleep-30s', addon: FIXTURE_ADDON })});
        victim.once('message', () => {
          new Worker(${CHILD}, { workerData: { case: 'exit-killer', target: victim.threadId } });
        });`, { deadlineMs: 25_000 });
      assert.strictEqual(r.code, 9);
      assert.match(r.stderr, /^thread-kill: thread \d+ could not be killed \(.*\); exiting with code 9\n$/);
    }
  });

  it('interrupt() of a finished region handle is false at every depth (40 nested regions)', () => {
    const handles: tk.RegionHandle[] = [];
    const nest = (n: number): void => { handles.push(tk.currentRegion()!); if (n > 0) tk.interruptible(() => nest(n - 1)); };
    tk.interruptible(() => nest(39));
    assert.strictEqual(handles.length, 40);
    for (const h of handles) assert.strictEqual(tk.interrupt(h), false);
    // And a live deep one is hit, exactly.
    let hit = false;
    let thrownAt = -1;
    const deep = (n: number): void => {
      if (n === 0) { hit = tk.interrupt(tk.currentRegion()!); for (let i = 0; i < 1e7; i++); return; }
      try { tk.interruptible(() => deep(n - 1)); } catch (e) { if (thrownAt < 0) thrownAt = n; throw e; }
    };
    assert.throws(() => tk.interruptible(() => deep(38)), tk.InterruptedError);
    assert.deepStrictEqual([hit, thrownAt], [true, 1]);
  });

  it('interruptible(async fn) is refused with a clear error', () => {
    assert.throws(() => tk.interruptible(async () => 1), (e: any) => e.code === 'ERR_THREAD_KILL_INVALID_ARG_TYPE' && /synchronous/.test(e.message));
    assert.throws(() => tk.interruptible(async function* () { /* */ } as never), { code: 'ERR_THREAD_KILL_INVALID_ARG_TYPE' });
    assert.strictEqual(tk.interruptible(function* () { /* */ } as never) !== undefined, true);
  });

  it('token.wait() and token.sleep() without an argument wait until the token stops', async () => {
    for (const how of ['wait', 'sleep']) {
      const t = killable('token-wait', { how });
      assert.strictEqual(await t.next(), 'ready');
      assert.strictEqual((t.w as tk.KillableWorker).stop('go'), true);
      assert.deepStrictEqual(await t.next(), ['woke', true, 'go']);
      assert.strictEqual(await t.exited, 0);
    }
  });

  it('once a thread sees token.stopped, token.signal.aborted agrees', async () => {
    const t = killable('token-signal');
    assert.strictEqual(await t.next(), 'ready');
    (t.w as tk.KillableWorker).stop();
    assert.deepStrictEqual(await t.next(), [true, 'ERR_THREAD_STOPPED']);
  });

  it('a cleanup that never settles is bounded by timeoutMs', async () => {
    const t = killable('busy');
    assert.strictEqual(await t.next(), 'ready');
    const r = await tk.kill(t.w, { timeoutMs: 300, cleanup: () => new Promise(() => undefined) });
    assert.strictEqual(r.outcome, 'killed');
    assert.strictEqual((r.cleanupError as any).code, 'ERR_THREAD_KILL_CLEANUP_TIMEOUT');
  });

  it('a killed thread is told from a finished one: exit code 1 by default, exitCode to choose, 0 for a natural end', async () => {
    const a = killable('busy');
    const b = killable('busy');
    const c = killable('done');
    assert.deepStrictEqual([await a.next(), await b.next(), await c.next()], ['ready', 'ready', 'ready']);
    await Promise.all([tk.kill(a.w), tk.kill(b.w, { exitCode: 42 })]);
    assert.deepStrictEqual([await a.exited, await b.exited, await c.exited], [1, 42, 0]);
    assert.ok(!isLive(a.w.originalThreadId));
  });
});
