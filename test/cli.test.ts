// `thread-kill stress` as a user runs it: a child process, its exit code,
// stdout and stderr. Includes the invocations the README documents.
import * as assert from 'assert';
import { execFile } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { stress } from 'thread-kill/stress';
import { ROOT } from './helpers';

const PKG = require('thread-kill/package.json') as { version: string; bin: Record<string, string> };
const CLI = path.join(ROOT, PKG.bin['thread-kill']);
const EXAMPLES = path.join(ROOT, 'examples');

interface Run { code: number | null; stdout: string; stderr: string }

function cli(args: string[], cwd = ROOT): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { cwd, encoding: 'utf8', timeout: 150_000, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : null) : 0, stdout, stderr });
    });
  });
}

const show = (r: Run): string => `exit ${r.code}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;
const OK_LINE = /^OK: every round met its expectation \((\d+) rounds, seed \d+\)$/m;

function tmpDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'tk-cli-'));
}

describe('thread-kill stress (CLI)', () => {
  it('--help lists the exit codes and what a --script must do for each op', async () => {
    const r = await cli(['stress', '--help']);
    assert.strictEqual(r.code, 0, show(r));
    for (const text of ['EXIT CODES', '0  every round met its expectation', '1  some round failed', '2  usage error',
      '--ops interrupt  the script hangs inside interruptible()', 'catches the InterruptedError and ends normally',
      '--ops stop       the script watches threadStopToken()', 'it cannot stop a script', '--quiet', '--version', 'FILE - writes it to stdout']) {
      assert.ok(r.stdout.includes(text), `--help lacks ${JSON.stringify(text)}:\n${r.stdout}`);
    }
  });

  it('no command is a usage error (exit 2, the usage on stderr)', async () => {
    const r = await cli([]);
    assert.strictEqual(r.code, 2, show(r));
    assert.strictEqual(r.stdout, '');
    assert.match(r.stderr, /^usage: thread-kill stress/);
  });

  it('--version prints the package version', async () => {
    for (const args of [['--version'], ['stress', '--version']]) {
      const r = await cli(args);
      assert.strictEqual(r.code, 0, show(r));
      assert.strictEqual(r.stdout, `${PKG.version}\n`);
      assert.strictEqual(r.stderr, '');
    }
  });

  it('--json - writes the report to stdout, the human output to stderr', async () => {
    const r = await cli(['stress', '--scenarios', 'busy-loop', '--rounds', '4', '--json', '-']);
    assert.strictEqual(r.code, 0, show(r));
    const report = JSON.parse(r.stdout);
    assert.strictEqual(report.ok, true);
    assert.strictEqual(report.rounds, 4);
    assert.match(r.stderr, /^thread-kill stress: 4 rounds in /);
    assert.match(r.stderr, /scenario\s+op\s+count/);
    assert.match(r.stderr, OK_LINE);
    assert.ok(!fs.existsSync(path.join(ROOT, '-')), 'a file named - was written');
  });

  it('--json -: what a --script prints goes to stderr, so stdout stays the JSON alone', async () => {
    const dir = tmpDir();
    const script = path.join(dir, 'chatty.js');
    // Interrupt rounds: the script prints, is interrupted, and ends normally (so all it printed arrives).
    fs.writeFileSync(script, `const tk = require(${JSON.stringify(require.resolve('thread-kill'))});\n` +
      `const { signalReady } = require(${JSON.stringify(require.resolve('thread-kill/stress'))});\n` +
      "try { tk.interruptible(() => { console.log('hello from the script'); signalReady(); for (;;) {} }); } catch {}\n");
    const r = await cli(['stress', '--script', script, '--ops', 'interrupt', '--rounds', '6', '--json', '-']);
    assert.strictEqual(r.code, 0, show(r));
    assert.strictEqual(JSON.parse(r.stdout).rounds, 6, show(r));
    assert.ok(r.stderr.includes('hello from the script'), show(r));
  });

  it('--quiet prints only the summary line', async () => {
    const r = await cli(['stress', '--scenarios', 'busy-loop', '--rounds', '4', '--quiet']);
    assert.strictEqual(r.code, 0, show(r));
    assert.match(r.stdout, /^OK: every round met its expectation \(4 rounds, seed \d+\)\n$/);
    assert.strictEqual(r.stderr, '');
    // With --json -: the JSON on stdout, the one line on stderr.
    const j = await cli(['stress', '--scenarios', 'busy-loop', '--rounds', '2', '--quiet', '--json', '-']);
    assert.strictEqual(j.code, 0, show(j));
    assert.strictEqual(JSON.parse(j.stdout).rounds, 2);
    assert.match(j.stderr, /^OK: every round met its expectation \(2 rounds, seed \d+\)\n$/);
  });

  describe('usage errors: exit 2, name the flag, nothing runs', () => {
    const cases: Array<[string[], RegExp]> = [
      [['--timeout', '0'], /^thread-kill stress: --timeout: expected a duration from 1ms to \d+ms, got 0\n/],
      [['--timeout', '5x'], /^thread-kill stress: --timeout: expected a duration like 500ms, 10s or 2m, got 5x\n/],
      [['--duration', '0s'], /^thread-kill stress: --duration: expected a duration from 1ms/],
      [['--rounds', '0'], /^thread-kill stress: --rounds: expected an integer from 1 to 10000000, got 0\n/],
      [['--rounds', '1.5'], /^thread-kill stress: --rounds: expected an integer/],
      [['--concurrency', '65'], /^thread-kill stress: --concurrency: expected an integer from 1 to 64, got 65\n/],
      [['--seed', 'x'], /^thread-kill stress: --seed: expected an integer/],
      [['--rss-limit', 'lots'], /^thread-kill stress: --rss-limit: expected an integer/],
      [['--ops', 'explode'], /^thread-kill stress: --ops: unknown value "explode" \(known: kill, interrupt, stop\)\n/],
      [['--ops', ','], /^thread-kill stress: --ops: expected a comma-separated list/],
      [['--killers', 'nobody'], /^thread-kill stress: --killers: unknown value "nobody"/],
      [['--scenarios', 'nope'], /^thread-kill stress: --scenarios: unknown value "nope"/],
      [['--scenarios', 'microtask-loop', '--ops', 'stop'], /^thread-kill stress: --ops stop: no selected scenario supports it\n/],
      [['--bogus'], /^thread-kill stress: Unknown option '--bogus'/],
      [['--rounds', '5', '--duration', '1s'], /^thread-kill stress: --rounds and --duration cannot be combined/],
      [['--script', 'nope.js'], /^thread-kill stress: --script nope\.js: no such file\n/],
      [['--script', 'examples'], /^thread-kill stress: --script examples: no such file\n/],
      [['--script', 'examples/my-worker.js', '--killers', 'main,child'], /^thread-kill stress: --killers child cannot stop a script/],
      [['--script', 'examples/my-worker.js', '--scenarios', 'regex'], /^thread-kill stress: --scenarios and --script cannot be combined/],
      [['--json', '/nonexistent-dir/report.json'], /^thread-kill stress: --json \/nonexistent-dir\/report\.json: cannot write it \(ENOENT\)\n/],
      [['--json', 'examples'], /^thread-kill stress: --json examples: cannot write it \(EISDIR\)\n/],
    ];
    for (const [args, message] of cases) {
      it(`stress ${args.join(' ')}`, async () => {
        const r = await cli(['stress', ...args]);
        assert.strictEqual(r.code, 2, show(r));
        assert.match(r.stderr, message);
        assert.ok(r.stderr.endsWith('(thread-kill stress --help for usage)\n'), show(r));
        assert.ok(!/options\.\w/.test(r.stderr), `names an internal option: ${r.stderr}`);
        assert.strictEqual(r.stdout, '', 'something ran');
      });
    }

    it('an unwritable --json path fails before the run, with an otherwise good command', async () => {
      const dir = tmpDir();
      try {
        const r = await cli(['stress', '--rounds', '2', '--json', path.join(dir, 'missing', 'r.json')]);
        assert.strictEqual(r.code, 2, show(r));
        assert.match(r.stderr, /--json .*r\.json: cannot write it \(ENOENT\)/);
        assert.strictEqual(r.stdout, '');
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });

    it('a missing script file is an error, never "OK"', async () => {
      const r = await cli(['stress', '--script', './my-missing-worker.js', '--rounds', '3'], EXAMPLES);
      assert.strictEqual(r.code, 2, show(r));
      assert.match(r.stderr, /^thread-kill stress: --script \.\/my-missing-worker\.js: no such file\n/);
      assert.ok(!r.stdout.includes('OK') && !r.stderr.includes('OK'), show(r));
    });
  });

  it('the programmatic stress() keeps its own typed errors and option names', async () => {
    await assert.rejects(stress({ script: path.join(EXAMPLES, 'nope.js') }),
      { code: 'ERR_THREAD_KILL_INVALID_ARG_TYPE', message: /^options\.script: no such file: / });
    await assert.rejects(stress({ script: path.join(EXAMPLES, 'my-worker.js'), killers: ['child'] }),
      { code: 'ERR_THREAD_KILL_INVALID_ARG_TYPE', message: /^options\.killers: the child killer cannot stop a script/ });
    await assert.rejects(stress({ timeoutMs: 0 }), { code: 'ERR_THREAD_KILL_OUT_OF_RANGE', message: /^options\.timeoutMs / });
    await assert.rejects(stress({ rounds: 5, durationMs: 1000 }),
      { code: 'ERR_THREAD_KILL_INVALID_ARG_TYPE', message: /^options\.rounds and options\.durationMs cannot be combined/ });
    // A size limit, not a duration: no "milliseconds", no upper bound of a timer.
    await assert.rejects(stress({ rssLimitMb: 0 }), { code: 'ERR_THREAD_KILL_OUT_OF_RANGE', message: 'options.rssLimitMb must be a finite number greater than 0, got 0' });
    await assert.rejects(stress({ rssLimitMb: '64' as never }), { code: 'ERR_THREAD_KILL_INVALID_ARG_TYPE', message: 'options.rssLimitMb must be a number, got string 64' });
    const big = await stress({ rounds: 1, scenarios: ['busy-loop'], rssLimitMb: 1e12 });
    assert.strictEqual(big.rss.allowanceMb, 1e12);
  });

  describe('the README invocations', () => {
    it('stress --script ./my-worker.js --rounds 200 (exactly): the killers that can stop a script, all 200 rounds OK', async function () {
      this.timeout(180_000);
      const r = await cli(['stress', '--script', './my-worker.js', '--rounds', '200'], EXAMPLES);
      assert.strictEqual(r.code, 0, show(r));
      assert.match(r.stdout, /^thread-kill stress: 200 rounds in .*, killers main, parent, sibling, seed \d+$/m);
      assert.match(r.stdout, /^script\s+kill\s+200\s/m);
      assert.strictEqual(OK_LINE.exec(r.stdout)?.[1], '200', show(r));
    });

    it('stress --duration … --concurrency 4 --json report.json writes the report to the file', async () => {
      const dir = tmpDir();
      try {
        const r = await cli(['stress', '--duration', '1s', '--concurrency', '4', '--json', 'report.json'], dir);
        assert.strictEqual(r.code, 0, show(r));
        const report = JSON.parse(fs.readFileSync(path.join(dir, 'report.json'), 'utf8'));
        assert.strictEqual(report.ok, true);
        assert.strictEqual(report.options.concurrency, 4);
        assert.match(r.stdout, OK_LINE);
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });

    it('stress --scenarios busy-loop,regex --ops interrupt --killers sibling,child --seed 42', async () => {
      const r = await cli(['stress', '--scenarios', 'busy-loop,regex', '--ops', 'interrupt', '--killers', 'sibling,child', '--seed', '42', '--duration', '1s']);
      assert.strictEqual(r.code, 0, show(r));
      assert.match(r.stdout, /killers sibling, child, seed 42$/m);
      assert.match(r.stdout, /^busy-loop\s+interrupt\s/m);
      assert.match(r.stdout, /^regex\s+interrupt\s/m);
      assert.match(r.stdout, OK_LINE);
    });

    it('stress --rounds … --quiet --json -', async () => {
      const r = await cli(['stress', '--rounds', '6', '--quiet', '--json', '-']);
      assert.strictEqual(r.code, 0, show(r));
      assert.strictEqual(JSON.parse(r.stdout).rounds, 6);
      assert.match(r.stderr, /^OK: every round met its expectation \(6 rounds, seed \d+\)\n$/);
    });
  });

  describe('--script and --ops interrupt / stop', () => {
    it('a script that is not interruptible fails each round with what it must do (exit 1)', async () => {
      const r = await cli(['stress', '--script', 'examples/my-worker.js', '--ops', 'interrupt', '--rounds', '3', '--quiet']);
      assert.strictEqual(r.code, 1, show(r));
      const failures = r.stdout.split('\n').filter((l) => l.startsWith('  script / interrupt / killer '));
      assert.strictEqual(failures.length, 3, show(r));
      for (const l of failures) {
        assert.match(l, /interrupt not delivered \(no-region\): for interrupt rounds a script must hang inside interruptible\(\), call signalReady\(\) inside it, catch the InterruptedError and end normally/);
      }
      assert.match(r.stdout, /^FAILED: 3 of 3 rounds failed \(seed \d+\)\n$/m);
      assert.ok(!r.stdout.includes('thread-kill stress: 3 rounds'), '--quiet printed the table');
    });

    it('a script that stops with its token too: kill, interrupt and stop rounds all pass', async () => {
      const r = await cli(['stress', '--script', 'examples/my-stoppable-worker.js', '--ops', 'kill,interrupt,stop', '--rounds', '18']);
      assert.strictEqual(r.code, 0, show(r));
      for (const op of ['interrupt', 'kill', 'stop']) assert.match(r.stdout, new RegExp(`^script\\s+${op}\\s+6\\s`, 'm'));
      assert.strictEqual(OK_LINE.exec(r.stdout)?.[1], '18', show(r));
    });

    it('the README\'s interruptible script passes interrupt rounds', async () => {
      const r = await cli(['stress', '--script', 'examples/my-interruptible-worker.js', '--ops', 'interrupt', '--rounds', '6', '--quiet']);
      assert.strictEqual(r.code, 0, show(r));
      assert.match(r.stdout, /^OK: every round met its expectation \(6 rounds/);
    });

    it('a script that is not stoppable fails stop rounds with what it must do', async () => {
      const r = await cli(['stress', '--script', 'examples/my-interruptible-worker.js', '--ops', 'stop', '--rounds', '1', '--timeout', '300ms', '--quiet']);
      assert.strictEqual(r.code, 1, show(r));
      assert.match(r.stdout, /timed out after 300 ms: the script to end after the stop \(for stop rounds a script must watch threadStopToken\(\)/);
    });
  });
});
