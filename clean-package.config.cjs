'use strict';
// clean-package (run by prepack/postpack): the published package.json keeps
// only the scripts a user of the package runs (install, demo), plus postpack
// (npm re-reads package.json before it; without it the restore would not
// run). The others run files that are not shipped (tests, CI, the prebuild
// step). The restore also removes prebuilds/ from the working tree: being
// preferred over build/, stale prebuilds would shadow every later local build.
const fs = require('fs');
const path = require('path');

const KEEP = new Set(['install', 'demo', 'postpack']);
const { scripts } = JSON.parse(fs.readFileSync(path.join(__dirname, 'package.json'), 'utf8'));

module.exports = {
  remove: Object.keys(scripts).filter((s) => !KEEP.has(s)).map((s) => `scripts.${s.replace(/\./g, '\\.')}`),
  onRestore: () => fs.rmSync(path.join(__dirname, 'prebuilds'), { recursive: true, force: true }),
};
