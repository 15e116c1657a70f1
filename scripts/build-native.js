#!/usr/bin/env node
'use strict';
// Install step: use a prebuilt binary for this platform/ABI if one loads,
// otherwise build from source with node-gyp against local headers.
// `--force` always builds; THREAD_KILL_DEBUG_BUILD=1 builds build/Debug.
const fs = require('fs');
const path = require('path');
const { runNodeGyp } = require('./node-gyp.js');

const root = path.resolve(__dirname, '..');

function prebuiltLoads() {
  const prebuilt = require('./binary-candidates.js')(root)
    .filter((p) => p.includes(`${path.sep}prebuilds${path.sep}`) && fs.existsSync(p));
  for (const file of prebuilt) {
    try {
      require(file);
      console.log(`thread-kill: using prebuilt ${path.relative(root, file)}`);
      return true;
    } catch {
      // wrong ABI or libc: fall through to a source build
    }
  }
  return false;
}

if (process.argv.includes('--force') || !prebuiltLoads()) {
  runNodeGyp(root, ['rebuild', process.env.THREAD_KILL_DEBUG_BUILD === '1' ? '--debug' : '--release']);
}
