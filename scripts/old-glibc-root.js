'use strict';
// The oldest C/C++ runtime reachable from this machine's package sources, to
// load the prebuilds on: Debian 11 "bullseye" (glibc 2.31, libstdc++ of GCC
// 10), from deb.debian.org. Older suites (buster: glibc 2.28, the real floor)
// are gone from deb.debian.org and archive.debian.org is not reachable here,
// so the floor itself is checked from symbol versions (check-glibc-floor.js)
// and this runtime proves the binaries load and work below glibc 2.32/2.34,
// where every symbol native/glibc_floor.cc pins came in.
//
// Not a chroot: the four runtime packages Node needs (libc6, libstdc++6,
// libgcc-s1, libatomic1) unpacked into .node-matrix/debian11-<arch>/ (apt-get
// with its own lists and cache: the system's apt state is not touched), with
// /usr/lib merged into /lib and an empty ld.so.cache so that nothing of the
// host's is found. runner(arch) says how to run a program on it: x64 through
// that root's own ld.so (--library-path); arm64 under qemu-user with -L root.
const { execFileSync } = require('child_process');
const fs = require('fs');
const path = require('path');

const root = path.resolve(__dirname, '..');
const SUITE = 'bullseye';
const GLIBC = '2.31';
const PACKAGES = ['libc6', 'libstdc++6', 'libgcc-s1', 'libatomic1'];
const DEBIAN = { x64: { arch: 'amd64', triplet: 'x86_64-linux-gnu' }, arm64: { arch: 'arm64', triplet: 'aarch64-linux-gnu' } };

/** The unpacked runtime for a Node arch ('x64' | 'arm64'), fetched once. */
function oldGlibcRoot(arch) {
  const d = DEBIAN[arch];
  if (!d) throw new Error(`old-glibc-root: no Debian runtime known for ${arch}`);
  const dir = path.join(root, '.node-matrix', `debian11-${arch}`);
  const done = path.join(dir, '.complete');
  if (fs.existsSync(done)) return dir;
  const apt = path.join(root, '.node-matrix', 'debian11-apt');
  fs.rmSync(dir, { recursive: true, force: true });
  for (const sub of ['lists/partial', 'cache/archives/partial', 'debs']) fs.mkdirSync(path.join(apt, sub), { recursive: true });
  fs.writeFileSync(path.join(apt, 'sources.list'), `deb [arch=amd64,arm64] http://deb.debian.org/debian ${SUITE} main\n`);
  fs.writeFileSync(path.join(apt, 'status'), '');
  const opts = [
    `Dir::Etc::SourceList=${apt}/sources.list`, 'Dir::Etc::SourceParts=/nonexistent',
    `Dir::State::Lists=${apt}/lists`, `Dir::State::status=${apt}/status`, `Dir::Cache=${apt}/cache`,
    'APT::Architectures::=amd64', 'APT::Architectures::=arm64', 'Debug::NoLocking=1', 'APT::Sandbox::User=root',
  ].flatMap((o) => ['-o', o]);
  const debs = path.join(apt, 'debs', d.arch);
  fs.rmSync(debs, { recursive: true, force: true });
  fs.mkdirSync(debs, { recursive: true });
  execFileSync('apt-get', [...opts, '-qq', 'update'], { stdio: ['ignore', 'ignore', 'inherit'] });
  execFileSync('apt-get', [...opts, '-qq', 'download', ...PACKAGES.map((p) => `${p}:${d.arch}`)],
    { cwd: debs, stdio: ['ignore', 'ignore', 'inherit'] });
  for (const deb of fs.readdirSync(debs)) execFileSync('dpkg-deb', ['-x', path.join(debs, deb), dir]);
  // Merged /usr: the loader's default directories then hold every library.
  fs.cpSync(path.join(dir, 'usr', 'lib', d.triplet), path.join(dir, 'lib', d.triplet), { recursive: true, verbatimSymlinks: true });
  fs.mkdirSync(path.join(dir, 'etc'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'etc', 'ld.so.cache'), '');
  fs.writeFileSync(done, `${SUITE} ${PACKAGES.join(' ')}\n`);
  return dir;
}

/** [command, ...args before the program] to run a program for `arch` on that runtime. */
function oldGlibcRunner(arch) {
  const dir = oldGlibcRoot(arch);
  const lib = path.join(dir, 'lib', DEBIAN[arch].triplet);
  if (arch === 'x64') return [path.join(lib, 'ld-linux-x86-64.so.2'), '--library-path', lib];
  return ['qemu-aarch64-static', '-L', dir];
}

module.exports = { oldGlibcRoot, oldGlibcRunner, GLIBC, SUITE };
