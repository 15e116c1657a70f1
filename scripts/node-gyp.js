'use strict';
// Runs node-gyp against the headers of the running Node, never downloading:
// npm's `nodedir` setting if it has headers, else <prefix>/include/node next
// to the node binary. Uses npm's bundled node-gyp when npm provides it.
const { spawnSync } = require('child_process');
const fs = require('fs');
const path = require('path');

function hasHeaders(dir) {
  return Boolean(dir) && fs.existsSync(path.join(dir, 'include', 'node', 'node.h'));
}

function localHeaders() {
  if (hasHeaders(process.env.npm_config_nodedir)) return process.env.npm_config_nodedir;
  const prefix = path.resolve(path.dirname(process.execPath), '..');
  return hasHeaders(prefix) ? prefix : null;
}

function nodeGypCommand() {
  const candidates = [
    process.env.npm_config_node_gyp,
    path.resolve(path.dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
  ];
  for (const c of candidates) if (c && fs.existsSync(c)) return [process.execPath, [c]];
  return ['node-gyp', []];
}

/** node-gyp <args> in `cwd`; exits the process on failure. */
function runNodeGyp(cwd, args) {
  const nodedir = localHeaders();
  const [cmd, pre] = nodeGypCommand();
  const full = [...pre, ...args];
  if (nodedir) full.push(`--nodedir=${nodedir}`);
  else console.warn('thread-kill: no local Node headers found; node-gyp may try to download them');
  const r = spawnSync(cmd, full, { cwd, stdio: 'inherit' });
  if (r.status !== 0) {
    console.error(`thread-kill: native build failed: ${cmd} ${full.join(' ')} (in ${cwd})`);
    process.exit(r.status || 1);
  }
}

module.exports = { runNodeGyp, localHeaders };
