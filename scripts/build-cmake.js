'use strict';
// Alternate build: cmake-js + CMakeLists.txt into build-cmake/ (node-gyp's
// build/ is untouched), against the running Node's local headers, then checks
// that the result loads.
const { spawnSync } = require('child_process');
const path = require('path');
const { localHeaders } = require('./node-gyp');

const root = path.resolve(__dirname, '..');
const out = path.join(root, 'build-cmake');
const binary = path.join(out, 'Release', 'thread_kill.node');

function fail(msg) {
  console.error(`thread-kill: ${msg}`);
  process.exit(1);
}

// cmake-js takes its headers dir only from npm_config_nodedir (its BuildSystem
// reads it from the environment as runtimeDirectory; there is no CLI option).
// Found there as <dir>/include/node/node.h, they count as already "downloaded",
// so it fetches nothing and sets CMAKE_JS_INC=<dir>/include/node. With no local
// headers it would download them, so refuse instead.
const { dir: nodedir, note } = localHeaders();
if (!nodedir) fail(`no headers for Node ${process.versions.node} (${note}); not downloading them`);
console.log(`thread-kill: building with ${note}`);

const args = [
  // rebuild, not build: a build dir configured for another Node's headers
  // would be reused as is (and the result refused by the loader).
  path.join(root, 'node_modules', 'cmake-js', 'bin', 'cmake-js'), 'rebuild',
  '--directory', root,
  '--out', out,
  // The same Node runs node-addon-api's include_dir lookup in CMakeLists.txt.
  `--CDNODE_EXECUTABLE=${process.execPath}`,
];
const built = spawnSync(process.execPath, args, {
  cwd: root,
  stdio: 'inherit',
  env: { ...process.env, npm_config_nodedir: nodedir },
});
if (built.status !== 0) fail(`cmake-js build failed: node ${args.join(' ')}`);

// The loader falls back to build/Release if THREAD_KILL_BINARY fails to load,
// so also check which file it actually loaded.
const check = spawnSync(process.execPath, ['-e', `
  const threads = require('./lib/index.js').threads();
  const { binaryPath } = require('./lib/shared/native.js');
  console.log(JSON.stringify({ threads, binaryPath }));
`], { cwd: root, encoding: 'utf8', env: { ...process.env, THREAD_KILL_BINARY: binary } });
let result;
try {
  result = JSON.parse(check.stdout);
} catch {
  fail(`loading ${binary} failed:\n${check.stderr}`);
}
const { threads, binaryPath } = result;
if (binaryPath !== binary) fail(`expected the loader to use ${binary}, it used ${binaryPath}`);
if (!Array.isArray(threads) || threads.length !== 1 || threads[0].isMainThread !== true) {
  fail(`unexpected threads() from ${binary}: ${JSON.stringify(threads)}`);
}
console.log(`thread-kill: cmake-js build OK, loads and reports the main thread: ${binary}`);
