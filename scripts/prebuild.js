#!/usr/bin/env node
'use strict';
// The prebuilt binaries of the npm package (run by `prepack`): one per
// supported Node major (package.json "engines": the addon uses V8's C++ API,
// so one binary per Node ABI), for this host's platform, arch and libc,
// named by prebuildify: prebuilds/<platform>-<arch>/thread-kill.abi<N>.<libc>.node.
// Each is compiled against that Node's own headers (scripts/fetch-node.js
// gets the official build from the registry once, into .node-matrix/), then
// loaded by that Node to prove it works. Built in a scratch copy so the
// developer's build/ stays as it was. (postpack removes prebuilds/ again:
// see clean-package.config.cjs.)
const { execFileSync } = require('child_process');
const fs = require('fs');
const path = require('path');
const prebuildify = require('prebuildify');
const { fetchNode } = require('./fetch-node.js');

const root = path.resolve(__dirname, '..');
const pkg = require('../package.json');

// npm also runs prepack when it installs the package as a git dependency:
// there, fetching four Node builds would be absurd; that install builds
// from source like any clone.
if (process.env.npm_lifecycle_event === 'prepack' && process.env.npm_command
    && !['pack', 'publish'].includes(process.env.npm_command)) {
  console.log(`thread-kill: no prebuilds for \`npm ${process.env.npm_command}\` (only for pack and publish)`);
  process.exit(0);
}

/** The supported majors: "^20.10.0 || ^22.0.0 || ..." → [20, 22, ...]. */
function supportedMajors() {
  const majors = [...pkg.engines.node.matchAll(/\^(\d+)/g)].map((m) => Number(m[1]));
  if (majors.length === 0) throw new Error(`prebuild: no "^<major>" ranges in engines.node (${pkg.engines.node})`);
  return majors;
}

function scratchCopy() {
  const dir = path.join(root, '.tk-tmp', 'prebuild');
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  for (const f of ['binding.gyp', 'package.json']) fs.copyFileSync(path.join(root, f), path.join(dir, f));
  fs.cpSync(path.join(root, 'native'), path.join(dir, 'native'), { recursive: true });
  // binding.gyp finds node-addon-api relative to its directory.
  fs.symlinkSync(path.join(root, 'node_modules'), path.join(dir, 'node_modules'), 'dir');
  return dir;
}

function build(node, cwd) {
  return new Promise((resolve, reject) => {
    prebuildify({
      cwd,
      out: root,
      targets: [`node@${node.version}`],
      napi: false, // a V8-API addon: tagged by ABI, never "napi"
      tagLibc: true,
      strip: true,
      // node-gyp run by that Node, so scripts/node-gyp.js picks its headers.
      nodeGyp: `"${node.node}" "${path.join(root, 'scripts', 'node-gyp.js')}"`,
      shell: true, // nodeGyp is a command line
    }, (err) => (err ? reject(err) : resolve()));
  });
}

async function main() {
  const outDir = path.join(root, 'prebuilds', `${process.platform}-${process.arch}`);
  fs.rmSync(outDir, { recursive: true, force: true });
  const cwd = scratchCopy();
  for (const major of supportedMajors()) {
    const node = fetchNode(major);
    const t0 = Date.now();
    await build(node, cwd);
    const abi = execFileSync(node.node, ['-p', 'process.versions.modules'], { encoding: 'utf8' }).trim();
    const file = fs.readdirSync(outDir).find((f) => f.includes(`.abi${abi}.`));
    if (!file) throw new Error(`prebuild: no prebuild tagged abi${abi} for Node ${node.version} in ${outDir}`);
    // The name (node-abi's table) and the ABI compiled in (the headers')
    // must agree, and that Node must load it and get the full export set.
    const check = execFileSync(node.node, ['-e', `
      const file = process.argv[1];
      const m = /thread-kill:abi=(\\d+);/.exec(require('fs').readFileSync(file, 'latin1'));
      if (!m || m[1] !== process.versions.modules) throw new Error('ABI marker ' + (m && m[1]) + ' in ' + file);
      const b = require(file);
      if (typeof b.runRegion !== 'function' || !Array.isArray(b.threads())) throw new Error('incomplete binding');
      console.log('ok');
    `, path.join(outDir, file)], { encoding: 'utf8' }).trim();
    if (check !== 'ok') throw new Error(`prebuild: ${file} failed its load check`);
    const kb = Math.round(fs.statSync(path.join(outDir, file)).size / 1024);
    console.log(`thread-kill: prebuilt ${path.relative(root, path.join(outDir, file))} for Node ${node.version} ` +
      `(${kb} KB, ${((Date.now() - t0) / 1000).toFixed(0)} s)`);
  }
  fs.rmSync(cwd, { recursive: true, force: true });
}

main().catch((err) => {
  console.error(`thread-kill: prebuild failed: ${err.message}`);
  process.exit(1);
});
