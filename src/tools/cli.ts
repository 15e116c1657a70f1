#!/usr/bin/env node
// `thread-kill stress`: every kind of hang, stopped from every kind of
// thread, verified and timed. Exit code 0 only if every round met its
// expectation and RSS growth stayed under the limit.
import * as fs from 'fs';
import * as path from 'path';
import { parseArgs } from 'util';
import { ALL_KILLERS, ALL_OPS, SCENARIOS, stress, StressProgress, StressReport } from './stress';
import type { KillerKind, Op } from './stress';

const USAGE = `usage: thread-kill stress [options]

  --scenarios a,b,...   built-in scenarios (default: all): ${SCENARIOS.map((s) => s.name).join(', ')}
                        (also, blocked in system calls: exec-sync, fifo-read, stdin-read
                        (stdin a silent pipe) — killed by the unblock rung; fifo-open,
                        pipe-write, pbkdf2 — expected unkillable, then released)
  --script FILE         run your own worker script as the scenario (call
                        require('thread-kill/stress').signalReady() right before it hangs)
  --duration 10s        run for this long (ms, s or m; default 10s) ...
  --rounds N            ... or this many rounds
  --concurrency N       rounds in flight (default 2)
  --killers list        ${ALL_KILLERS.join(',')} (default: all)
  --ops list            ${ALL_OPS.join(',')} (default: all)
  --timeout 10s         per-step limit inside a round
  --rss-limit MB        fail if RSS grows more than this (default 64)
  --json FILE           also write the report as JSON
  --seed N              reproduce a run
`;

function parseDuration(v: string, name: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(v.trim());
  if (!m) throw new Error(`${name}: expected a duration like 500ms, 10s or 2m, got ${v}`);
  const n = Number(m[1]);
  return m[2] === 'ms' ? n : m[2] === 'm' ? n * 60_000 : n * 1000;
}

function parseCount(v: string, name: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${name}: expected a positive integer, got ${v}`);
  return n;
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
  if (argv[0] !== 'stress' || argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(USAGE);
    return argv[0] === 'stress' || argv.includes('--help') ? 0 : 2;
  }
  const { values } = parseArgs({
    args: argv.slice(1),
    options: {
      scenarios: { type: 'string' }, script: { type: 'string' }, duration: { type: 'string' }, rounds: { type: 'string' },
      concurrency: { type: 'string' }, killers: { type: 'string' }, ops: { type: 'string' }, json: { type: 'string' },
      seed: { type: 'string' }, timeout: { type: 'string' }, 'rss-limit': { type: 'string' },
    },
    strict: true,
  });
  const split = (v: string | undefined): string[] | undefined => v?.split(',').map((s) => s.trim()).filter(Boolean);
  const tty = process.stdout.isTTY === true;
  let lastPlain = 0;
  const report = await stress({
    scenarios: split(values.scenarios),
    script: values.script === undefined ? undefined : path.resolve(values.script),
    ops: split(values.ops) as Op[] | undefined,
    killers: split(values.killers) as KillerKind[] | undefined,
    rounds: values.rounds === undefined ? undefined : parseCount(values.rounds, '--rounds'),
    durationMs: values.duration === undefined ? undefined : parseDuration(values.duration, '--duration'),
    concurrency: values.concurrency === undefined ? undefined : parseCount(values.concurrency, '--concurrency'),
    seed: values.seed === undefined ? undefined : parseCount(values.seed, '--seed'),
    timeoutMs: values.timeout === undefined ? undefined : parseDuration(values.timeout, '--timeout'),
    rssLimitMb: values['rss-limit'] === undefined ? undefined : parseCount(values['rss-limit'], '--rss-limit'),
    onProgress: (p) => {
      if (tty) process.stdout.write(`\r\x1b[K${progressLine(p)}`);
      else if (p.elapsedMs - lastPlain >= 2000) { lastPlain = p.elapsedMs; process.stdout.write(`${progressLine(p)}\n`); }
    },
  });
  if (tty) process.stdout.write('\r\x1b[K');
  const killers = report.options.killers.join(', ');
  process.stdout.write(`thread-kill stress: ${report.rounds} rounds in ${(report.elapsedMs / 1000).toFixed(1)} s, ` +
    `concurrency ${report.options.concurrency}, killers ${killers}, seed ${report.seed}\n\n${table(report)}\n\n`);
  process.stdout.write(`RSS ${report.rss.beforeMb.toFixed(1)} MB -> ${report.rss.afterMb.toFixed(1)} MB ` +
    `(growth ${report.rss.growthMb.toFixed(1)} MB, limit ${report.rss.limitMb} MB)${report.rss.ok ? '' : ' — OVER THE LIMIT'}\n`);
  if (values.json) fs.writeFileSync(values.json, JSON.stringify(report, null, 2));
  if (report.failures.length > 0) {
    process.stdout.write(`\n${report.failures.length} failed rounds (rerun with --seed ${report.seed}):\n`);
    for (const f of report.failures.slice(0, 50)) {
      process.stdout.write(`  ${f.scenario} / ${f.op} / killer ${f.killer} / seed ${f.seed}: ${f.failure}\n`);
    }
  }
  process.stdout.write(report.ok ? 'OK: every round met its expectation\n' : 'FAILED\n');
  return report.ok ? 0 : 1;
}

main(process.argv.slice(2)).then((code) => { process.exitCode = code; }, (err: Error) => {
  process.stderr.write(`thread-kill: ${err.message}\n`);
  process.exitCode = 2;
});
