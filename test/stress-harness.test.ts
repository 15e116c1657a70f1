// The stress harness never hangs: every scenario x op x killer ends within
// its --timeout steps; a thread that cannot be ended is reported as such and
// the run goes on and exits; FIFO scenarios without mkfifo are skipped and
// leave nothing behind; the memory verdict compares with a control.
import * as assert from 'assert';
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { ALL_KILLERS, ALL_OPS, NATIVE_SCENARIOS, SCENARIOS, UNKILLABLE_SCENARIOS, StressReport } from 'thread-kill/stress';
import { ROOT } from './helpers';

const CLI = path.join(ROOT, 'lib', 'tools', 'cli.js');
interface Run { code: number | null; stdout: string; stderr: string; ms: number }

/** The CLI in a child process whose stdin is a pipe nobody writes to (stdin-read needs one). */
function cli(args: string[], env: NodeJS.ProcessEnv = process.env, cwd = ROOT): Promise<Run> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const p = spawn(process.execPath, [CLI, ...args], { cwd, env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    p.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    // Only a safety net: a harness that hangs is exactly the bug under test.
    const deadline = setTimeout(() => p.kill('SIGKILL'), 240_000);
    p.once('close', (code) => { clearTimeout(deadline); p.stdin.destroy(); resolve({ code, stdout, stderr, ms: performance.now() - t0 }); });
  });
}
const show = (r: Run): string => `exit ${r.code} after ${Math.round(r.ms)} ms\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;

describe('thread-kill stress never hangs', () => {
  it('every scenario x op x killer, once each, with --timeout 3s: all end, all as expected', async function () {
    this.timeout(300_000);
    const all = [...SCENARIOS, ...NATIVE_SCENARIOS, ...UNKILLABLE_SCENARIOS];
    const unkillable = new Set(UNKILLABLE_SCENARIOS.map((s) => s.name));
    // The combinations stress() makes: an unkillable scenario has no 'child' killer.
    const combos = all.flatMap((s) => s.ops.flatMap((op) => ALL_KILLERS.filter((k) => !(unkillable.has(s.name) && k === 'child')).map((k) => `${s.name}/${op}/${k}`)));
    assert.ok(ALL_OPS.every((op) => combos.some((c) => c.includes(`/${op}/`))));
    const r = await cli(['stress', '--scenarios', all.map((s) => s.name).join(','), '--timeout', '3s',
      '--rounds', String(combos.length), '--json', '-']);
    assert.strictEqual(r.code, 0, show(r));
    const report = JSON.parse(r.stdout) as StressReport;
    assert.strictEqual(report.rounds, combos.length);
    const ran = report.rows.flatMap((row) => Object.entries(row.killers).flatMap(([k, n]) => Array(n).fill(`${row.scenario}/${row.op}/${k}`)));
    assert.deepStrictEqual(ran.sort(), [...combos].sort());
  });

  it('a thread that cannot be ended is reported so, with its diagnosis; the run goes on and exits 1', async function () {
    this.timeout(120_000);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tk-stuck-'));
    try {
      // Blocked in write() to a full pipe nobody reads (no rung may drain it):
      // a helper thread says "ready" once the writer is in that call.
      const script = path.join(dir, 'stuck.js');
      fs.writeFileSync(script, `
        const { Worker, workerData, threadId } = require('worker_threads');
        const fs = require('fs');
        const tk = require(${JSON.stringify(path.join(ROOT, 'lib', 'index.js'))});
        const fifo = ${JSON.stringify(path.join(dir, 'fifo'))} + threadId;
        require('child_process').execFileSync('mkfifo', [fifo]);
        const fd = fs.openSync(fifo, 'r+');
        new Worker(\`const { workerData } = require('worker_threads'); const fs = require('fs');
          const flag = new Int32Array(workerData.ready);
          const t = setInterval(() => {
            if (fs.readFileSync('/proc/self/task/' + workerData.osTid + '/wchan', 'utf8') !== 'pipe_write') return;
            clearInterval(t); Atomics.store(flag, 0, 1); Atomics.notify(flag, 0);
          }, 1);\`, { eval: true, workerData: { ready: workerData.ready, osTid: tk.threadInfo(threadId).osTid } });
        fs.writeSync(fd, Buffer.alloc(1 << 20));
      `);
      const r = await cli(['stress', '--script', script, '--ops', 'interrupt', '--timeout', '1s', '--rounds', '3', '--quiet']);
      assert.strictEqual(r.code, 1, show(r));
      assert.match(r.stdout, /^3 rounds left a thread that could not be ended \(abandoned; see their diagnosis above\)$/m, show(r));
      for (const killer of ['main', 'parent', 'sibling']) {
        assert.match(r.stdout, new RegExp(`^  script / interrupt / killer ${killer} / seed \\d+: .*then the thread could not be ended \\(abandoned\\): .*write\\(\\)`, 'm'), show(r));
      }
      assert.match(r.stdout, /^FAILED: 3 of 3 rounds failed/m);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('without mkfifo on PATH the FIFO scenarios are skipped, said so, and no tk-fifo-* folder is left', async function () {
    this.timeout(120_000);
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tk-nofifo-'));
    try {
      const env = { ...process.env, PATH: tmp, TMPDIR: tmp };
      const r = await cli(['stress', '--scenarios', 'busy-loop,fifo-read,fifo-open,pipe-write', '--rounds', '8', '--timeout', '3s'], env);
      assert.strictEqual(r.code, 0, show(r));
      for (const s of ['fifo-read', 'fifo-open', 'pipe-write']) assert.match(r.stdout, new RegExp(`^${s}: skipped: needs mkfifo \\(not on PATH\\)$`, 'm'), show(r));
      assert.match(r.stdout, /^OK: every round met its expectation \(8 rounds/m);
      assert.deepStrictEqual(fs.readdirSync(tmp).filter((f) => f.startsWith('tk-fifo-')), []);
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });

  it('the memory verdict: growth after the warm-up against a control measured in the same run', async function () {
    this.timeout(120_000);
    const r = await cli(['stress', '--scenarios', 'busy-loop', '--duration', '6s', '--json', '-']);
    assert.strictEqual(r.code, 0, show(r));
    const { rss } = JSON.parse(r.stdout) as StressReport;
    assert.strictEqual(rss.judged, true, JSON.stringify(rss));
    assert.strictEqual(rss.controlThreads, 64);
    assert.ok(rss.measuredRounds >= 20 && rss.warmupRounds >= 1, JSON.stringify(rss));
    assert.strictEqual(rss.limitMb, Math.max(0, rss.controlMb!) + 16);
    assert.strictEqual(rss.ok, rss.growthMb <= rss.limitMb!);
    assert.match(r.stderr, /control, same run \(64 plain Workers started and terminated\): -?[\d.]+ MB; limit [\d.]+ MB \(control \+ 16 MB\)/, show(r));
  });
});
