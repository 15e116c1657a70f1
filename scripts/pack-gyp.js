#!/usr/bin/env node
'use strict';
// prepack: the npm package carries binding.gyp as native/binding.gyp, never
// at its root. npm (and pnpm, Yarn, Bun) give a package with a root
// binding.gyp and no install script an implicit `install: node-gyp rebuild`,
// which npm 11 then asks to approve (allowScripts) — though with a matching
// prebuild nothing needs building. The source build (`npx thread-kill build`,
// scripts/install.js) puts it back at the root for the length of the build.
// postpack (clean-package's restore) removes the copy.
const fs = require('fs');
const path = require('path');

const root = path.resolve(__dirname, '..');
fs.copyFileSync(path.join(root, 'binding.gyp'), path.join(root, 'native', 'binding.gyp'));
console.log('thread-kill: packed binding.gyp as native/binding.gyp (no implicit node-gyp install script)');
