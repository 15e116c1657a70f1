'use strict';
// Where the addon may live, in the order the loader (src/native.ts) and the
// install script (scripts/build-native.js) look: an explicit override (alone), a
// prebuilt binary for this platform and ABI, then node-gyp's outputs.
// The addon uses V8/Node C++ APIs, so prebuilds are per Node ABI.
const path = require('path');

module.exports = function binaryCandidates(root) {
  // An explicit choice is the only candidate: silently falling back to
  // another build would test or run something the user did not ask for.
  if (process.env.THREAD_KILL_BINARY) return [path.resolve(process.env.THREAD_KILL_BINARY)];
  const list = [];
  const dir = path.join(root, 'prebuilds', `${process.platform}-${process.arch}`);
  list.push(path.join(dir, `node.abi${process.versions.modules}.node`));
  list.push(path.join(dir, `thread-kill.abi${process.versions.modules}.node`));
  list.push(path.join(root, 'build', 'Release', 'thread_kill.node'));
  list.push(path.join(root, 'build', 'Debug', 'thread_kill.node'));
  return list;
};
