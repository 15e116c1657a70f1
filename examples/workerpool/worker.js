// worker.js: every method of the worker goes through interruptibleMethods() (synchronous ones)
const workerpool = require('workerpool');
const { threadId } = require('worker_threads');
const { interruptibleMethods } = require('thread-kill/workerpool');
workerpool.worker(interruptibleMethods({
  collatz(n) { while (n !== 1) n = n % 2 ? 3 * n + 1 : n / 2; return 'done'; },
  whoami: () => threadId,
}));
