// The symbol-version reading behind the prebuilds' glibc floor
// (scripts/check-glibc-floor.js; the package test runs it on every binary
// in the tarball). Here: that it reads readelf's output right, so a pass
// there means something, and that this machine's own build is judged.
import * as assert from 'assert';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { ROOT } from './helpers';

const floor = require(path.join(ROOT, 'scripts', 'check-glibc-floor.js')) as {
  requiredVersions(text: string): Array<{ symbol: string; lib: string; version: number[] }>;
  floorViolations(file: string): string[];
  newer(a: number[], b: number[]): boolean;
};

// readelf --dyn-syms -W, abridged from real x64 and arm64 builds.
const READELF = `
Symbol table '.dynsym' contains 9 entries:
   Num:    Value          Size Type    Bind   Vis      Ndx Name
     0: 0000000000000000     0 NOTYPE  LOCAL  DEFAULT  UND 
     1: 0000000000000000     0 FUNC    GLOBAL DEFAULT  UND pthread_once@GLIBC_2.34 (3)
     2: 0000000000000000     0 FUNC    GLOBAL DEFAULT  UND _ZNSt18condition_variable4waitERSt11unique_lockISt5mutexE@GLIBCXX_3.4.30 (5)
     3: 0000000000000000     0 OBJECT  GLOBAL DEFAULT  UND __libc_single_threaded@GLIBC_2.32 (6)
     4: 0000000000000000     0 FUNC    GLOBAL DEFAULT  UND pthread_once@GLIBC_2.17 (2)
     5: 0000000000000000     0 FUNC    GLOBAL DEFAULT  UND _Unwind_GetIPInfo@GCC_4.2.0 (7)
     6: 0000000000000000     0 NOTYPE  GLOBAL DEFAULT  UND _ZNK2v88TryCatch13HasTerminatedEv
     7: 0000000000016140    20 FUNC    GLOBAL DEFAULT   12 napi_register_module_v1
     8: 0000000000000000     0 FUNC    GLOBAL DEFAULT  UND __cxa_throw_bad_array_new_length@CXXABI_1.3.8 (8)
`;

describe('glibc floor: reading what a binary needs', () => {
  it('every undefined versioned symbol, with its library and version; nothing else', () => {
    assert.deepStrictEqual(floor.requiredVersions(READELF).map((r) => `${r.symbol}@${r.lib}_${r.version.join('.')}`), [
      'pthread_once@GLIBC_2.34',
      '_ZNSt18condition_variable4waitERSt11unique_lockISt5mutexE@GLIBCXX_3.4.30',
      '__libc_single_threaded@GLIBC_2.32',
      'pthread_once@GLIBC_2.17',
      '_Unwind_GetIPInfo@GCC_4.2.0',
      '__cxa_throw_bad_array_new_length@CXXABI_1.3.8',
    ]);
  });

  it('versions compare as numbers, part by part', () => {
    assert.strictEqual(floor.newer([2, 34], [2, 28]), true);
    assert.strictEqual(floor.newer([2, 3, 4], [2, 28]), false);
    assert.strictEqual(floor.newer([2, 28], [2, 28]), false);
    assert.strictEqual(floor.newer([3, 4, 22], [3, 4, 21]), true);
    assert.strictEqual(floor.newer([3, 4], [3, 4, 21]), false);
  });

  it('the unpinned local build needs more than the floor, and says what (the check can fail)', () => {
    // build/Release is made without the floor (only prebuilds get it): on a
    // toolchain newer than the floor it must be reported; on an old one it passes.
    const file = path.join(ROOT, 'build', 'Release', 'thread_kill.node');
    const bad = floor.floorViolations(file);
    for (const v of bad) assert.match(v, /^[\w.]+@(GLIBC|GLIBCXX|CXXABI|GCC)_[\d.]+$/);
    const report = process.report.getReport() as { header: { glibcVersionRuntime?: string } };
    const glibc = /^2\.(\d+)/.exec(report.header.glibcVersionRuntime ?? '');
    if (glibc && Number(glibc[1]) >= 34) assert.ok(bad.length > 0, `nothing reported for a build on glibc 2.${glibc[1]}`);
  });

  it('the pthread_cond_clockwait stand-in for glibc < 2.30 times out at the steady deadline and wakes on a signal', () => {
    // No glibc here takes that path (they all have the real one), so it is
    // compiled with a driver and run directly (test/native/clockwait-fallback.cc).
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tk-clockwait-'));
    try {
      const exe = path.join(dir, 'clockwait');
      const cc = spawnSync(process.env.CXX || 'g++', ['-std=c++20', '-O2', '-Wall', '-Wextra', '-Werror', '-o', exe,
        path.join(ROOT, 'test', 'native', 'clockwait-fallback.cc'), path.join(ROOT, 'native', 'glibc_floor.cc'), '-ldl', '-pthread'],
      { encoding: 'utf8' });
      assert.strictEqual(cc.status, 0, cc.stderr);
      const run = spawnSync(exe, { encoding: 'utf8', timeout: 60_000 });
      assert.strictEqual(run.status, 0, run.stdout + run.stderr);
      assert.deepStrictEqual(run.stdout.trim().split('\n').map((l) => l.split(' ')[0]), ['ok', 'ok', 'ok', 'ok'], run.stdout);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
