// jest.config.js: Jest's timeouts also stop synchronous code
module.exports = { testEnvironment: 'thread-kill/jest' };   // jest-environment-node, plus thread-kill
// Another environment (jsdom, …): testEnvironment: './jest.env.js', a file of yours with
// module.exports = require('thread-kill/jest').withThreadKill(require('jest-environment-jsdom').TestEnvironment);
