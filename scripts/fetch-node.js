#!/usr/bin/env node
'use strict';
// An official Node.js build of a given major, with its headers, for the
// prebuilds (scripts/prebuild.js) and the CI version matrix (.ci/run). The
// npm registry carries them as node-linux-<arch>@<version> (bin/node and
// include/node, no install script): `npm pack` it once into .node-matrix/
// (git-ignored) and unpack. The running Node serves its own major when it
// has its headers. Maintainer and CI tooling: never run at install.
//
// Another architecture's build (the cross-built prebuilds, scripts/prebuild.js;
// their smoke test, scripts/test-arm64.js) is cached in .node-matrix/linux-<arch>/
// and run under qemu-user (runner()).
//
// CLI: node scripts/fetch-node.js [--arch <arch>] <major>...  prints
// "<major> <bin dir>" lines.
const { execFileSync } = require('child_process');
const fs = require('fs');
const path = require('path');

const root = path.resolve(__dirname, '..');
const cache = path.join(root, '.node-matrix');

/** { major, version, node, bin, prefix, arch } for Node <major> (fetched once). */
function fetchNode(major, arch = process.arch) {
  major = String(major);
  if (arch !== process.arch) return fetchForeign(major, arch);
  // A CI host's own Node installs (e.g. macOS, where the registry's builds
  // stop at Node 18): THREAD_KILL_NODE_<major>=/path/to/bin/node.
  const given = process.env[`THREAD_KILL_NODE_${major}`];
  if (given) {
    const version = execFileSync(given, ['-p', 'process.versions.node'], { encoding: 'utf8' }).trim();
    return { major, version, node: given, bin: path.dirname(given), prefix: path.resolve(path.dirname(given), '..'), arch };
  }
  const own = path.resolve(path.dirname(process.execPath), '..');
  if (process.versions.node.split('.')[0] === major && fs.existsSync(path.join(own, 'include', 'node', 'node.h'))) {
    return { major, version: process.versions.node, node: process.execPath, bin: path.dirname(process.execPath), prefix: own, arch };
  }
  const dir = path.join(cache, major);
  const node = path.join(dir, 'package', 'bin', 'node');
  if (!fs.existsSync(node)) {
    if (process.platform !== 'linux') {
      throw new Error(`fetch-node: the registry's current Node builds are Linux ones; on ${process.platform} ` +
        `set THREAD_KILL_NODE_${major}=/path/to/bin/node`);
    }
    fs.rmSync(dir, { recursive: true, force: true });
    fs.mkdirSync(dir, { recursive: true });
    const out = execFileSync('npm', ['pack', `node-${process.platform}-${process.arch}@${major}`, '--pack-destination', dir, '--json', '--silent'],
      { cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
    const tgz = JSON.parse(out)[0].filename;
    execFileSync('tar', ['xzf', path.join(dir, tgz), '-C', dir]);
    fs.rmSync(path.join(dir, tgz));
  }
  const version = execFileSync(node, ['-p', 'process.versions.node'], { encoding: 'utf8' }).trim();
  return { major, version, node, bin: path.dirname(node), prefix: path.join(dir, 'package'), arch: process.arch };
}

/** The registry's node-linux-<arch>@<major>: cannot run here natively, so its version is read, not asked. */
function fetchForeign(major, arch) {
  if (process.platform !== 'linux') throw new Error(`fetch-node: Node for linux-${arch} is fetched on Linux hosts only`);
  const dir = path.join(cache, `linux-${arch}`, major);
  const prefix = path.join(dir, 'package');
  const node = path.join(prefix, 'bin', 'node');
  if (!fs.existsSync(node) || !fs.existsSync(path.join(prefix, 'include', 'node', 'node.h'))) {
    fs.rmSync(dir, { recursive: true, force: true });
    fs.mkdirSync(dir, { recursive: true });
    const out = execFileSync('npm', ['pack', `node-linux-${arch}@${major}`, '--pack-destination', dir, '--json', '--silent'],
      { cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
    const tgz = JSON.parse(out)[0].filename;
    execFileSync('tar', ['xzf', path.join(dir, tgz), '-C', dir]);
    fs.rmSync(path.join(dir, tgz));
  }
  const { version } = JSON.parse(fs.readFileSync(path.join(prefix, 'package.json'), 'utf8'));
  return { major, version, node, bin: path.dirname(node), prefix, arch };
}

// Debian's names: the cross toolchain's triplet and qemu-user's binary per Node arch.
const FOREIGN = {
  arm64: { triplet: 'aarch64-linux-gnu', qemu: 'qemu-aarch64-static', packages: ['g++-aarch64-linux-gnu', 'qemu-user-static'] },
};

/**
 * How to run a program built for `arch` here: [command, ...args before the
 * program]. Another arch runs under qemu-user with the cross toolchain's
 * runtime (/usr/<triplet>: libc, libstdc++) as its root for libraries.
 */
function runner(arch) {
  if (arch === process.arch) return [];
  const f = FOREIGN[arch];
  if (!f) throw new Error(`fetch-node: no way known to run linux-${arch} programs on ${process.arch}`);
  return [f.qemu, '-L', `/usr/${f.triplet}`];
}

module.exports = { fetchNode, runner, FOREIGN };

if (require.main === module) {
  const args = process.argv.slice(2);
  const at = args.indexOf('--arch');
  const arch = at >= 0 ? args.splice(at, 2)[1] : process.arch;
  for (const major of args) console.log(`${major} ${fetchNode(major, arch).bin}`);
}
