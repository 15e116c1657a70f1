'use strict';
// Mocha's spec output, plus what CI reads: a final line "N passed, N failed",
// also written as JSON to $THREAD_KILL_RESULTS (when set) for .ci/run to sum
// and to list the failures again at its end (its log may be read from the tail).
const fs = require('fs');
const Mocha = require('mocha');

const { EVENT_RUN_END, EVENT_TEST_PASS, EVENT_TEST_FAIL } = Mocha.Runner.constants;

class SummaryReporter extends Mocha.reporters.Spec {
  constructor(runner, options) {
    super(runner, options);
    let passed = 0;
    let failed = 0;
    const failures = [];
    runner.on(EVENT_TEST_PASS, () => { passed++; });
    runner.on(EVENT_TEST_FAIL, (test, err) => {
      failed++;
      const first = String((err && err.message) || err).split('\n')[0].slice(0, 300);
      failures.push(`${test.fullTitle()}: ${first}`);
    });
    runner.once(EVENT_RUN_END, () => {
      if (process.env.THREAD_KILL_RESULTS) {
        fs.writeFileSync(process.env.THREAD_KILL_RESULTS, JSON.stringify({ passed, failed, failures }));
      }
      // After Spec's epilogue, which is also printed on 'end'.
      process.nextTick(() => console.log(`${passed} passed, ${failed} failed`));
    });
  }
}

module.exports = SummaryReporter;
