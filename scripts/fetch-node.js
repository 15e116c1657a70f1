#!/usr/bin/env node
'use strict';
// An official Node.js build of a given major, with its headers, for the
// prebuilds (scripts/prebuild.js) and the CI version matrix (.ci/run). The
// npm registry carries them as node-linux-<arch>@<version> (bin/node and
// include/node, no install script): `npm pack` it once into .node-matrix/
// (git-ignored) and unpack. The running Node serves its own major when it
// has its headers. Maintainer and CI tooling: never run at install.
//
// CLI: node scripts/fetch-node.js <major>...  prints "<major> <bin dir>" lines.
const { execFileSync } = require('child_process');
const fs = require('fs');
const path = require('path');

const root = path.resolve(__dirname, '..');
const cache = path.join(root, '.node-matrix');

/** { major, version, node, bin, prefix } for Node <major> (fetched once). */
function fetchNode(major) {
  major = String(major);
  // A CI host's own Node installs (e.g. macOS, where the registry's builds
  // stop at Node 18): THREAD_KILL_NODE_<major>=/path/to/bin/node.
  const given = process.env[`THREAD_KILL_NODE_${major}`];
  if (given) {
    const version = execFileSync(given, ['-p', 'process.versions.node'], { encoding: 'utf8' }).trim();
    return { major, version, node: given, bin: path.dirname(given), prefix: path.resolve(path.dirname(given), '..') };
  }
  const own = path.resolve(path.dirname(process.execPath), '..');
  if (process.versions.node.split('.')[0] === major && fs.existsSync(path.join(own, 'include', 'node', 'node.h'))) {
    return { major, version: process.versions.node, node: process.execPath, bin: path.dirname(process.execPath), prefix: own };
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
  return { major, version, node, bin: path.dirname(node), prefix: path.join(dir, 'package') };
}

module.exports = { fetchNode };

if (require.main === module) {
  for (const major of process.argv.slice(2)) console.log(`${major} ${fetchNode(major).bin}`);
}
