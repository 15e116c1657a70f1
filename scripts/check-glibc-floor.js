#!/usr/bin/env node
'use strict';
// The oldest Linux a prebuild loads on: the official Node 20–26 builds need
// glibc 2.28 and libstdc++ GLIBCXX_3.4.21 (CXXABI_1.3.9, the same GCC 5
// release), and libgcc_s GCC_4.2.0 at most; a prebuild must need no more.
// Read from the ELF dynamic symbol table (readelf: every architecture, no
// cross binutils), one entry per undefined versioned symbol. Used by
// scripts/prebuild.js (refuses to package a binary that fails) and by the
// package test on every .node in the tarball.
//
// CLI: node scripts/check-glibc-floor.js <file.node>...  exit 1 on any violation.
const { execFileSync } = require('child_process');

const FLOOR = {
  GLIBC: [2, 28],
  GLIBCXX: [3, 4, 21],
  CXXABI: [1, 3, 9],
  GCC: [4, 2, 0],
  text: 'glibc 2.28 / GLIBCXX_3.4.21 / CXXABI_1.3.9 / GCC_4.2.0',
};

function newer(version, floor) {
  for (let i = 0; i < Math.max(version.length, floor.length); i++) {
    const a = version[i] ?? 0;
    const b = floor[i] ?? 0;
    if (a !== b) return a > b;
  }
  return false;
}

/**
 * The versioned symbols `readelf --dyn-syms -W` output asks of other
 * libraries: [{ symbol, lib: 'GLIBC', version: [2, 34] }]. Only undefined
 * ("UND") entries: a binary's own definitions need nothing.
 */
function requiredVersions(readelfOutput) {
  const out = [];
  for (const line of readelfOutput.split('\n')) {
    const cols = line.trim().split(/\s+/);
    // Num: Value Size Type Bind Vis Ndx Name
    if (cols.length < 8 || cols[6] !== 'UND') continue;
    const m = /^(.+?)@+(GLIBC|GLIBCXX|CXXABI|GCC)_([0-9.]+)(?:\s|\(|$)/.exec(cols.slice(7).join(' '));
    if (m) out.push({ symbol: m[1], lib: m[2], version: m[3].split('.').map(Number) });
  }
  return out;
}

/** "pthread_once@GLIBC_2.34"-style names of what `file` needs beyond the floor. */
function floorViolations(file) {
  const text = execFileSync('readelf', ['--dyn-syms', '-W', file], { encoding: 'utf8' });
  if (!/Symbol table '\.dynsym'/.test(text)) throw new Error(`check-glibc-floor: no dynamic symbol table in ${file}`);
  return requiredVersions(text)
    .filter((r) => newer(r.version, FLOOR[r.lib]))
    .map((r) => `${r.symbol}@${r.lib}_${r.version.join('.')}`);
}

module.exports = { FLOOR, requiredVersions, floorViolations, newer };

if (require.main === module) {
  let bad = 0;
  for (const file of process.argv.slice(2)) {
    const v = floorViolations(file);
    console.log(v.length ? `FAILED ${file}: needs ${v.join(', ')}` : `ok ${file}: needs at most ${FLOOR.text}`);
    if (v.length) bad++;
  }
  process.exit(bad ? 1 : 0);
}
