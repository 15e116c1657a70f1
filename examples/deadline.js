// deadline.js: a deadline for synchronous code
const { interruptible, RegionTimeoutError } = require('thread-kill');
const parseUntrustedInput = (text) => /^(a+)+$/.test(text);   // catastrophic backtracking: runs for ages
const text = 'a'.repeat(40) + 'b';
try {
  interruptible(() => parseUntrustedInput(text), { timeoutMs: 50 });   // main thread or any worker
} catch (e) {
  if (e instanceof RegionTimeoutError) console.log(`gave up after ${e.timeoutMs} ms`, e.stack);
  else throw e;
}
