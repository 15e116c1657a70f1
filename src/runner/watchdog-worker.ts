// The watchdog thread of ./watchdog.ts: polls the watched thread's armed
// test; one still armed its timeout + grace after first seen is reported
// (name, diagnose()) and the process leaves non-zero.
import '../index';
import { workerData } from 'worker_threads';
import { diagnose } from '../kill/diagnose';
import { exitNow, writeStderrSync } from '../kill/exit';
import { NAME_AT, NAME_BYTES, POLL_MS, WatchdogData } from './watchdog';

const { buffer, target, runner, graceMs } = workerData as WatchdogData;
const ctl = new Int32Array(buffer, 0, 4);
const nameBytes = new Uint8Array(buffer, NAME_AT, NAME_BYTES);
/** Exit status of a run the watchdog ended (EX_SOFTWARE). */
export const STUCK_EXIT_CODE = 70;

let seen = 0;
let since = 0;
let firing = false;

function armedName(): string {
  // Copied out of shared memory first: TextDecoder refuses shared views.
  return new TextDecoder().decode(nameBytes.slice(0, Math.min(ctl[2], NAME_BYTES)));
}

async function fire(token: number, timeoutMs: number, name: string): Promise<void> {
  let where = 'where: unknown (diagnose() failed)';
  try {
    const d = await diagnose(target, { sampleMs: 100 });
    if (d !== undefined) {
      where = `where: ${d.summary}` + (d.jsStack ? `\n${d.jsStack}` : '') + (d.remedy ? `\nremedy: ${d.remedy}` : '');
    }
  } catch (err) {
    where = `where: unknown (diagnose() failed: ${String((err as Error)?.message ?? err)})`;
  }
  // It finished while we looked: its interrupt landed late, the run goes on.
  if (Atomics.load(ctl, 0) !== token) { firing = false; return; }
  const elapsed = Math.round(performance.now() - since);
  writeStderrSync(`\n${runner}: TEST STUCK — "${name}" has been running for at least ${elapsed} ms, past its timeout of ` +
    `${timeoutMs} ms plus ${graceMs} ms of grace: its timeout could not interrupt it (thread ${target} is blocked where ` +
    `an interrupt cannot land). Ending the process with exit code ${STUCK_EXIT_CODE}.\n${where}\n`);
  exitNow(STUCK_EXIT_CODE);
}

function check(): void {
  if (firing) return;
  const token = Atomics.load(ctl, 0);
  if (token === 0) { seen = 0; return; }
  const now = performance.now();
  if (token !== seen) { seen = token; since = now; return; }
  const timeoutMs = ctl[1];
  if (now - since < timeoutMs + graceMs) return;
  firing = true;
  void fire(token, timeoutMs, armedName());
}

setInterval(check, POLL_MS);
