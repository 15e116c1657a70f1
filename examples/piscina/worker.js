// worker.js
const { interruptibleTask } = require('thread-kill/piscina');
module.exports = interruptibleTask(({ n }) => { while (n !== 1) n = n % 2 ? 3 * n + 1 : n / 2; return 'done'; });
