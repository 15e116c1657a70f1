#!/usr/bin/env node
// `thread-kill stress`: every kind of hang, stopped from every kind of
// thread, verified and timed. Exit code 0 only if every round met its
// expectation and RSS growth stayed under the limit (the codes: USAGE).
import * as fs from 'fs';
import * as path from 'path';
import { parseArgs } from 'util';
import { ALL_KILLERS, ALL_OPS, NATIVE_SCENARIOS, SCENARIOS, SCRIPT_KILLERS, UNKILLABLE_SCENARIOS, scenarioByName, stress, StressProgress, StressReport } from './stress';
import type { Killer, Op } from './stress';

const USAGE = `usage: thread-kill stress [options]
       thread-kill --version

  --scenarios a,b,...   built-in scenarios (default: all): ${SCENARIOS.map((s) => s.name).join(', ')}
                        (also, blocked in system calls: exec-sync, fifo-read, stdin-read
                        (stdin a silent pipe), fifo-open — killed by the unblock rung;
                        pipe-write, pbkdf2 — expected unkillable, then released)
  --script FILE         run your own worker script as the scenario instead (see SCRIPTS)
  --duration 10s        run for this long (ms, s or m; default 10s) ...
  --rounds N            ... or this many rounds (not both)
  --concurrency N       rounds in flight (default 2, at most 64)
  --killers list        ${ALL_KILLERS.join(',')} (default: all; with --script: ${SCRIPT_KILLERS.join(',')})
  --ops list            ${ALL_OPS.join(',')} (default: all; with --script: kill)
  --timeout 10s         per-step limit inside a round (a round has at most 10
                        steps; a thread that cannot be ended is reported so,
                        with its diagnosis, and the run goes on)
  --rss-limit MB        RSS growth allowed after the warm-up beyond a control
                        measured in the same run: plain Workers started and
                        terminated (default 16; runs of 5 s or 300 rounds and up)
  --json FILE           also write the report as JSON; FILE - writes it to stdout
                        (and everything else to stderr)
  --seed N              reproduce a run
  --quiet               print only the summary line (and the failed rounds)
  --version             print the version of thread-kill
  -h, --help            print this help

SCRIPTS (--script FILE): FILE runs in a worker thread, one per round, and
calls require('thread-kill/stress').signalReady() right before it hangs.
  --ops kill       (the default) any such script.
  --ops interrupt  the script hangs inside interruptible(), calls signalReady()
                   inside it, catches the InterruptedError and ends normally:
                     try { interruptible(() => { signalReady(); for (;;) {} }); }
                     catch (e) { if (!(e instanceof InterruptedError)) throw e; }
  --ops stop       the script watches threadStopToken() (stopped, signal or
                   wait()) and ends normally once it is stopped.
  The child killer (the hung thread's own child) exists only in the built-in
  scenarios: it cannot stop a script.

EXIT CODES
  0  every round met its expectation and RSS stayed under the limit
     (scenarios that cannot run here are listed as skipped, e.g. without mkfifo)
  1  some round failed (including a thread that could not be ended), or RSS
     grew over the limit
  2  usage error (unknown or bad flag, missing --script file, unwritable --json
     path): nothing was run
  3  the harness itself failed (a bug in thread-kill)
`;

/** A mistake on the command line: exit code 2, before anything runs. */
class UsageError extends Error {}

/** stress()'s option names, as the flags that set them. */
const FLAGS: Record<string, string> = {
  scenarios: '--scenarios', script: '--script', ops: '--ops', killers: '--killers', rounds: '--rounds', durationMs: '--duration',
  concurrency: '--concurrency', seed: '--seed', timeoutMs: '--timeout', rssLimitMb: '--rss-limit',
};

const MAX_MS = 2 ** 31 - 1;

function parseDuration(v: string, name: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(v.trim());
  if (!m) throw new UsageError(`${name}: expected a duration like 500ms, 10s or 2m, got ${v}`);
  const n = Number(m[1]);
  const ms = m[2] === 'ms' ? n : m[2] === 'm' ? n * 60_000 : n * 1000;
  if (ms < 1 || ms > MAX_MS) throw new UsageError(`${name}: expected a duration from 1ms to ${MAX_MS}ms, got ${v}`);
  return ms;
}

function parseCount(v: string, name: string, max = MAX_MS): number {
  const n = Number(v);
  if (!/^\d+$/.test(v.trim()) || !Number.isInteger(n) || n < 1 || n > max) {
    throw new UsageError(`${name}: expected an integer from 1 to ${max}, got ${v}`);
  }
  return n;
}

function parseList<T extends string>(v: string | undefined, name: string, known: readonly string[]): T[] | undefined {
  if (v === undefined) return undefined;
  const items = v.split(',').map((s) => s.trim()).filter(Boolean);
  if (items.length === 0) throw new UsageError(`${name}: expected a comma-separated list of ${known.join(', ')}`);
  for (const item of items) {
    if (!known.includes(item)) throw new UsageError(`${name}: unknown value ${JSON.stringify(item)} (known: ${known.join(', ')})`);
  }
  return items as T[];
}

const fmt = (ms: number): string => (ms >= 100 ? ms.toFixed(0) : ms >= 10 ? ms.toFixed(1) : ms.toFixed(2));

function table(report: StressReport): string {
  const head = ['scenario', 'op', 'count', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms', 'fail', 'unkillable', 'cleanup'];
  const rows = report.rows.map((r) => [r.scenario, r.op, String(r.count), fmt(r.p50), fmt(r.p90), fmt(r.p99), fmt(r.max),
    String(r.failures), String(r.unkillable), r.op === 'kill' ? `${r.cleanupRan}/${r.cleanupExpected}` : '-']);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  return [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

function progressLine(p: StressProgress): string {
  const left = p.remaining.ms !== undefined ? `${(p.remaining.ms / 1000).toFixed(1)} s left` : `${p.remaining.rounds} rounds left`;
  return `${p.done} rounds, ${p.ratePerSec.toFixed(1)}/s, ${p.failures} failed, ${(p.elapsedMs / 1000).toFixed(1)} s elapsed, ${left}`;
}

async function main(argv: string[]): Promise<number> {
  if (argv[0] === '--version' || (argv[0] === 'stress' && argv.includes('--version'))) {
    // By the package's own name, wherever this file sits in it.
    process.stdout.write(`${(require('thread-kill/package.json') as { version: string }).version}\n`);
    return 0;
  }
  if (argv[0] !== 'stress' || argv.includes('--help') || argv.includes('-h')) {
    const help = argv[0] === 'stress' || argv.includes('--help') || argv.includes('-h');
    (help ? process.stdout : process.stderr).write(USAGE);
    return help ? 0 : 2;
  }
  let values;
  try {
    ({ values } = parseArgs({
      args: argv.slice(1),
      options: {
        scenarios: { type: 'string' }, script: { type: 'string' }, duration: { type: 'string' }, rounds: { type: 'string' },
        concurrency: { type: 'string' }, killers: { type: 'string' }, ops: { type: 'string' }, json: { type: 'string' },
        seed: { type: 'string' }, timeout: { type: 'string' }, 'rss-limit': { type: 'string' }, quiet: { type: 'boolean' },
      },
      strict: true,
    }));
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  if (values.rounds !== undefined && values.duration !== undefined) {
    throw new UsageError('--rounds and --duration cannot be combined: give one (a run stops after N rounds or after a time)');
  }
  let script: string | undefined;
  if (values.script !== undefined) {
    if (values.scenarios !== undefined) throw new UsageError('--scenarios and --script cannot be combined: a script is the only scenario');
    script = path.resolve(values.script);
    let st: fs.Stats | undefined;
    try { st = fs.statSync(script); } catch { /* reported below */ }
    if (!st?.isFile()) throw new UsageError(`--script ${values.script}: no such file`);
  }
  const allScenarios = [...SCENARIOS, ...NATIVE_SCENARIOS, ...UNKILLABLE_SCENARIOS].map((s) => s.name);
  const scenarios = parseList<string>(values.scenarios, '--scenarios', allScenarios);
  const ops = parseList<Op>(values.ops, '--ops', ALL_OPS);
  const killers = parseList<Killer>(values.killers, '--killers', ALL_KILLERS);
  if (script !== undefined && killers?.includes('child')) {
    throw new UsageError(`--killers child cannot stop a script: the child killer is a child thread only the built-in scenarios start (use ${SCRIPT_KILLERS.join(',')})`);
  }
  if (script === undefined && ops !== undefined) {
    const names = scenarios ?? SCENARIOS.map((s) => s.name);
    if (!names.some((n) => ops.some((op) => scenarioByName(n)!.ops.includes(op)))) {
      throw new UsageError(`--ops ${ops.join(',')}: no selected scenario supports it`);
    }
  }
  const options = {
    scenarios, script, ops, killers,
    rounds: values.rounds === undefined ? undefined : parseCount(values.rounds, '--rounds', 10_000_000),
    durationMs: values.duration === undefined ? undefined : parseDuration(values.duration, '--duration'),
    concurrency: values.concurrency === undefined ? undefined : parseCount(values.concurrency, '--concurrency', 64),
    seed: values.seed === undefined ? undefined : parseCount(values.seed, '--seed', 2 ** 31),
    timeoutMs: values.timeout === undefined ? undefined : parseDuration(values.timeout, '--timeout'),
    rssLimitMb: values['rss-limit'] === undefined ? undefined : parseCount(values['rss-limit'], '--rss-limit'),
  };
  // The JSON file is opened before the run: an unwritable path fails now, not after it.
  const toStdout = values.json === '-';
  let jsonFd: number | undefined;
  if (values.json !== undefined && !toStdout) {
    try {
      jsonFd = fs.openSync(values.json, 'w');
    } catch (err) {
      throw new UsageError(`--json ${values.json}: cannot write it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
    }
  }
  // Human output goes to stderr when stdout carries the JSON — and so does
  // whatever a --script prints: every worker's stdout, at any depth, reaches
  // the process through this thread's process.stdout, so while stdout is
  // reserved for the JSON its writes are sent to stderr.
  const out = toStdout ? process.stderr : process.stdout;
  const writeStdout = process.stdout.write.bind(process.stdout);
  if (toStdout) process.stdout.write = process.stderr.write.bind(process.stderr) as typeof process.stdout.write;
  const quiet = values.quiet === true;
  const tty = out.isTTY === true && !quiet;
  let lastPlain = 0;
  let report: StressReport;
  try {
    report = await stress({
      ...options,
      onProgress: quiet ? undefined : (p) => {
        if (tty) out.write(`\r\x1b[K${progressLine(p)}`);
        else if (p.elapsedMs - lastPlain >= 2000) { lastPlain = p.elapsedMs; out.write(`${progressLine(p)}\n`); }
      },
    });
  } catch (err) {
    if (jsonFd !== undefined) { fs.closeSync(jsonFd); fs.rmSync(values.json!, { force: true }); }
    throw err;
  }
  if (tty) out.write('\r\x1b[K');
  if (!quiet) {
    const killerList = report.options.killers.join(', ');
    out.write(`thread-kill stress: ${report.rounds} rounds in ${(report.elapsedMs / 1000).toFixed(1)} s, ` +
      `concurrency ${report.options.concurrency}, killers ${killerList}, seed ${report.seed}\n\n${table(report)}\n\n`);
    out.write(`${memoryLine(report)}\n`);
    for (const s of report.skipped) out.write(`${s.scenario}: skipped: ${s.why}\n`);
  }
  const json = `${JSON.stringify(report, null, 2)}\n`;
  if (jsonFd !== undefined) { fs.writeSync(jsonFd, json); fs.closeSync(jsonFd); }
  if (toStdout) writeStdout(json);
  if (report.failures.length > 0) {
    out.write(`${quiet ? '' : '\n'}${report.failures.length} failed rounds (rerun with --seed ${report.seed}):\n`);
    for (const f of report.failures.slice(0, 50)) {
      out.write(`  ${f.scenario} / ${f.op} / killer ${f.killer} / seed ${f.seed}: ${f.failure}\n`);
    }
  }
  const rss = report.rss.ok ? '' : `, RSS grew ${report.rss.growthMb.toFixed(1)} MB after the warm-up (limit ${report.rss.limitMb!.toFixed(1)} MB: the control's ${report.rss.controlMb!.toFixed(1)} MB + ${report.rss.allowanceMb} MB)`;
  if (quiet) for (const s of report.skipped) out.write(`${s.scenario}: skipped: ${s.why}\n`);
  if (report.abandoned > 0) out.write(`${report.abandoned} rounds left a thread that could not be ended (abandoned; see their diagnosis above)\n`);
  out.write(report.ok
    ? `OK: every round met its expectation (${report.rounds} rounds, seed ${report.seed})\n`
    : `FAILED: ${report.failures.length} of ${report.rounds} rounds failed${rss} (seed ${report.seed})\n`);
  return report.ok ? 0 : 1;
}

/** The memory verdict in one line: what was compared, and the figures. */
function memoryLine(report: StressReport): string {
  const m = report.rss;
  const f = (n: number | undefined): string => `${(n ?? 0).toFixed(1)} MB`;
  if (!m.judged) return `RSS ${f(m.beforeMb)} -> ${f(m.afterMb)}; memory ${m.rule}`;
  return `RSS after the warm-up ${f(m.warmedMb)} -> ${f(m.afterMb)} (growth ${f(m.growthMb)} over ${m.measuredRounds} rounds); `
    + `control, same run (${m.controlThreads} plain Workers started and terminated): ${f(m.controlMb)}; `
    + `limit ${f(m.limitMb)} (control + ${m.allowanceMb} MB)${m.ok ? '' : ' — OVER THE LIMIT'}`;
}

main(process.argv.slice(2)).then((code) => { process.exitCode = code; }, (err: Error & { code?: string }) => {
  if (err instanceof UsageError || err.code?.startsWith('ERR_THREAD_KILL_')) {
    // stress()'s own validation names its options: say the flags instead.
    const message = err instanceof UsageError ? err.message
      : err.message.replace(/\boptions\.(\w+)/g, (all, name: string) => FLAGS[name] ?? all);
    process.stderr.write(`thread-kill stress: ${message}\n(thread-kill stress --help for usage)\n`);
    process.exitCode = 2;
  } else {
    process.stderr.write(`thread-kill stress: ${err.stack ?? err.message}\n`);
    process.exitCode = 3;
  }
});
