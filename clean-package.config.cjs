'use strict';
// clean-package (run by prepack/postpack): the published package.json keeps
// only the scripts a user of the package runs (demo), plus postpack (npm
// re-reads package.json before it; without it the restore would not run).
// No install script: with a matching prebuild an install runs nothing, so
// npm 11 has nothing to approve (allowScripts); where none matches, the
// loader's error names the one build command (`npx thread-kill build`). The
// clone keeps its install script: `npm install` there builds the addon. The
// others run files that are not shipped (tests, CI, the prebuild step). The
// restore also removes prebuilds/ from the working tree (being preferred over
// build/, stale prebuilds would shadow every later local build) and the
// packed native/binding.gyp (scripts/pack-gyp.js).
const fs = require('fs');
const path = require('path');

const KEEP = new Set(['demo', 'postpack']);
const { scripts } = JSON.parse(fs.readFileSync(path.join(__dirname, 'package.json'), 'utf8'));

module.exports = {
  // allowScripts: the clone's policy for its devDependencies (a dependency's own is never read).
  remove: [...Object.keys(scripts).filter((s) => !KEEP.has(s)).map((s) => `scripts.${s.replace(/\./g, '\\.')}`), 'allowScripts'],
  onRestore: () => {
    fs.rmSync(path.join(__dirname, 'prebuilds'), { recursive: true, force: true });
    fs.rmSync(path.join(__dirname, 'native', 'binding.gyp'), { force: true });
  },
};
