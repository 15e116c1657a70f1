// Root hooks for every test file: a thread a test leaves behind is killed
// right after that test, so one failure never cascades into the tests after
// it, and the run fails at the end naming every test that leaked. (A failing
// afterEach would make mocha skip the rest of the suite.) Threads alive
// before the test (a describe's shared sibling killer) are not the test's.
import * as tk from 'thread-kill';

let before = new Set<number>();
const leaks: string[] = [];

/** Threads may still be on their way out right after a test: give them a moment. */
async function settle(ids: number[], ms: number): Promise<number[]> {
  const end = performance.now() + ms;
  let left = ids;
  while (left.length > 0 && performance.now() < end) {
    await new Promise((resolve) => setTimeout(resolve, 5));
    const live = new Set(tk.threads().map((t) => t.threadId));
    left = left.filter((id) => live.has(id));
  }
  return left;
}

export const mochaHooks = {
  beforeEach(): void {
    before = new Set(tk.threads().map((t) => t.threadId));
  },
  async afterEach(this: Mocha.Context): Promise<void> {
    const extra = tk.threads().filter((t) => !t.isMainThread && !before.has(t.threadId)).map((t) => t.threadId);
    if (extra.length === 0) return;
    const leaked = await settle(extra, 2000);
    if (leaked.length === 0) return;
    await Promise.all(leaked.map((id) => tk.kill(id, { timeoutMs: 5000, onUnkillable: 'abandon' }).catch(() => undefined)));
    leaks.push(`${this.currentTest?.fullTitle() ?? 'a test'} left threads ${leaked.join(', ')} behind`);
  },
  afterAll(): void {
    if (leaks.length > 0) throw new Error(`tests leaked threads (killed after each):\n  ${leaks.join('\n  ')}`);
  },
};
