#!/usr/bin/env node
'use strict';
// The clone's install step, and the installed package's source build
// (`npx thread-kill build`: the npm package has no install script, see
// clean-package.config.cjs). A prebuilt binary for this platform, Node ABI
// and libc that loads means done: no compiler runs. Otherwise build from
// source with node-gyp against this Node's own headers (scripts/node-gyp.js),
// first checking the toolchain so a missing one is named, per OS, in one
// message instead of a node-gyp stack.
//   --force (thread-kill build), or npm's build-from-source setting: always build.
//   THREAD_KILL_DEBUG_BUILD=1: build build/Debug instead of build/Release.
const { spawnSync } = require('child_process');
const fs = require('fs');
const path = require('path');
const { runNodeGyp } = require('./node-gyp.js');

const root = path.resolve(__dirname, '..');

/**
 * The prebuild the library would load here, or null. Asked of the library's
 * own loader (lib/shared/binary.js, present in the published package; a git clone
 * has no prebuilds until `npm pack`) in a child process, so a binary that
 * cannot load here (e.g. a newer glibc) costs a source build, not this install.
 */
function loadablePrebuild() {
  if (!fs.existsSync(path.join(root, 'lib', 'shared', 'binary.js'))) return null;
  const env = { ...process.env };
  delete env.THREAD_KILL_BINARY;
  const r = spawnSync(process.execPath, ['-e', `
    const { loadBinary } = require('./lib/shared/binary.js');
    const { file, origin } = loadBinary(process.cwd());
    console.log(JSON.stringify({ file, origin }));
  `], { cwd: root, env, encoding: 'utf8' });
  if (r.status !== 0) return null;
  try {
    const { file, origin } = JSON.parse(r.stdout.trim().split('\n').pop());
    return origin === 'prebuild' ? file : null;
  } catch {
    return null;
  }
}

function onPath(names) {
  const dirs = (process.env.PATH || '').split(path.delimiter).filter(Boolean);
  return names.find((n) => (path.isAbsolute(n) ? [n] : dirs.map((d) => path.join(d, n)))
    .some((p) => { try { fs.accessSync(p, fs.constants.X_OK); return fs.statSync(p).isFile(); } catch { return false; } }));
}

/** What to install on this OS: the one line that applies. */
function toolchainHint() {
  if (process.platform === 'darwin') return 'install the Xcode Command Line Tools: xcode-select --install';
  if (process.platform === 'win32') return 'thread-kill supports Linux only (see its README)';
  let release = '';
  try { release = fs.readFileSync('/etc/os-release', 'utf8'); } catch { /* unknown distribution */ }
  const ids = (release.match(/^ID(?:_LIKE)?=.*$/gm) || []).join(' ').replace(/ID(_LIKE)?=|"/g, '').split(/\s+/);
  if (fs.existsSync('/etc/alpine-release') || ids.includes('alpine')) return 'apk add g++ make python3';
  if (ids.some((id) => ['debian', 'ubuntu'].includes(id))) return 'apt-get install g++ make python3';
  if (ids.some((id) => ['fedora', 'rhel', 'centos'].includes(id))) return 'dnf install gcc-c++ make python3';
  if (ids.some((id) => ['arch'].includes(id))) return 'pacman -S gcc make python';
  if (ids.some((id) => ['suse', 'opensuse'].includes(id))) return 'zypper install gcc-c++ make python3';
  return "install a C++20 compiler (g++ 10+ or clang 10+), make and Python 3 with the system's package manager";
}

/** The command that builds the addon here: the clone's, or the installed package's (per package manager). */
function rebuildCommand() {
  if (!root.split(path.sep).includes('node_modules')) return 'npm run build';
  const agent = /^(pnpm|yarn|bun)\//.exec(process.env.npm_config_user_agent || '');
  const run = { pnpm: 'pnpm exec', yarn: 'yarn', bun: 'bunx' }[agent ? agent[1] : ''] || 'npx';
  return `${run} thread-kill build`;
}

/**
 * node-gyp reads ./binding.gyp. The npm package carries it as
 * native/binding.gyp (scripts/pack-gyp.js): put it at the root for the
 * build only, so the installed package never has one there (a root
 * binding.gyp makes package managers run `node-gyp rebuild` at install).
 */
function withBindingGyp(build) {
  const atRoot = path.join(root, 'binding.gyp');
  const packed = path.join(root, 'native', 'binding.gyp');
  if (fs.existsSync(atRoot) || !fs.existsSync(packed)) return build();
  fs.copyFileSync(packed, atRoot);
  // runNodeGyp exits the process on failure: finally blocks would not run.
  const remove = () => fs.rmSync(atRoot, { force: true });
  process.once('exit', remove);
  try {
    return build();
  } finally {
    remove();
  }
}

function checkToolchain() {
  const missing = [];
  if (!onPath([process.env.CXX || 'c++', 'g++', 'clang++'])) missing.push('a C++ compiler');
  if (!onPath([process.env.MAKE || 'make', 'gmake'])) missing.push('make');
  if (!onPath([process.env.PYTHON || 'python3', 'python'])) missing.push('Python 3');
  if (missing.length === 0) return;
  console.error(
    `thread-kill: no prebuilt binary for ${process.platform}-${process.arch} Node.js ${process.version} ` +
    `(ABI ${process.versions.modules}), and building one needs ${missing.join(', ')} (not found on PATH).\n` +
    `thread-kill: ${toolchainHint()}; then run \`${rebuildCommand()}\`.`);
  process.exit(1);
}

const force = process.argv.includes('--force') || /^(true|1)$/.test(process.env.npm_config_build_from_source || '');
const prebuild = force ? null : loadablePrebuild();
if (prebuild) {
  console.log(`thread-kill: using the prebuilt ${path.relative(root, prebuild)}`);
} else {
  checkToolchain();
  // --jobs=max: six translation units; make -j<cores> (node-gyp's own default is one).
  withBindingGyp(() => runNodeGyp(root, ['rebuild', '--jobs=max', process.env.THREAD_KILL_DEBUG_BUILD === '1' ? '--debug' : '--release']));
}
