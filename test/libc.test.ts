// The loader's C library detection (src/shared/libc.ts) and its use in
// picking a prebuild: a glibc binary on musl, or the reverse, fails to load.
import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { ROOT } from './helpers';

type Libc = 'glibc' | 'musl';
const { detectLibc, currentLibc } = require(path.join(ROOT, 'lib', 'shared', 'libc.js')) as {
  detectLibc(i: { override?: string; maps: string | null; alpineRelease: boolean }): Libc;
  currentLibc(env?: NodeJS.ProcessEnv): Libc;
};
const { candidates } = require(path.join(ROOT, 'lib', 'shared', 'binary.js')) as {
  candidates(root: string, env: NodeJS.ProcessEnv): Array<{ file: string; origin: string }>;
};

const line = (file: string) => `7f2a1c000000-7f2a1c028000 r--p 00000000 08:01 1234   ${file}\n`;
const NODE = line('/usr/local/bin/node');

describe('libc detection: the C library mapped into the process decides', () => {
  it('Alpine: musl\'s loader is mapped', () => {
    assert.strictEqual(detectLibc({ maps: NODE + line('/lib/ld-musl-x86_64.so.1'), alpineRelease: true }), 'musl');
  });

  it('a musl system that is not Alpine (no /etc/alpine-release): musl', () => {
    assert.strictEqual(detectLibc({ maps: NODE + line('/usr/lib/ld-musl-aarch64.so.1'), alpineRelease: false }), 'musl');
    assert.strictEqual(detectLibc({ maps: NODE + line('/lib/libc.musl-x86_64.so.1'), alpineRelease: false }), 'musl');
  });

  it('glibc, as named by current (libc.so.6) and older (libc-2.28.so) glibc', () => {
    assert.strictEqual(detectLibc({ maps: NODE + line('/usr/lib/x86_64-linux-gnu/libc.so.6'), alpineRelease: false }), 'glibc');
    assert.strictEqual(detectLibc({ maps: NODE + line('/lib64/libc-2.28.so'), alpineRelease: false }), 'glibc');
  });

  it('a glibc Node on Alpine (its glibc packages): glibc, whatever /etc/alpine-release says', () => {
    assert.strictEqual(detectLibc({ maps: NODE + line('/usr/glibc-compat/lib/libc.so.6'), alpineRelease: true }), 'glibc');
  });

  it('a file merely named like a C library elsewhere in a path is not taken for one', () => {
    assert.strictEqual(detectLibc({ maps: NODE + line('/opt/ld-musl-x86_64.so.1.bak') + line('/lib/libc.so.6'), alpineRelease: false }), 'glibc');
  });

  it('/proc/self/maps unreadable: /etc/alpine-release decides, as node-gyp-build does', () => {
    assert.strictEqual(detectLibc({ maps: null, alpineRelease: true }), 'musl');
    assert.strictEqual(detectLibc({ maps: null, alpineRelease: false }), 'glibc');
    assert.strictEqual(detectLibc({ maps: NODE, alpineRelease: true }), 'musl');
  });

  it('LIBC overrides everything (node-gyp-build\'s variable); other values are ignored', () => {
    assert.strictEqual(detectLibc({ override: 'musl', maps: NODE + line('/lib/libc.so.6'), alpineRelease: false }), 'musl');
    assert.strictEqual(detectLibc({ override: 'glibc', maps: NODE + line('/lib/ld-musl-x86_64.so.1'), alpineRelease: true }), 'glibc');
    assert.strictEqual(detectLibc({ override: 'bionic', maps: NODE + line('/lib/ld-musl-x86_64.so.1'), alpineRelease: false }), 'musl');
  });

  it('this process: what its own /proc/self/maps shows', () => {
    const maps = fs.readFileSync('/proc/self/maps', 'latin1');
    const expected: Libc = /ld-musl-/.test(maps) ? 'musl' : 'glibc';
    assert.strictEqual(currentLibc({}), expected);
    assert.strictEqual(currentLibc({ LIBC: expected === 'musl' ? 'glibc' : 'musl' }), expected === 'musl' ? 'glibc' : 'musl');
  });
});

describe('libc detection picks the prebuild', () => {
  let root: string;
  const dir = () => path.join(root, 'prebuilds', `${process.platform}-${process.arch}`);
  const abi = process.versions.modules;
  before(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'tk-libc-'));
    fs.mkdirSync(dir(), { recursive: true });
    for (const libc of ['glibc', 'musl']) fs.writeFileSync(path.join(dir(), `thread-kill.abi${abi}.${libc}.node`), '');
    fs.writeFileSync(path.join(dir(), 'thread-kill.abi1.musl.node'), '');
  });
  after(() => fs.rmSync(root, { recursive: true, force: true }));

  const prebuilds = (env: NodeJS.ProcessEnv) =>
    candidates(root, env).filter((c) => c.origin === 'prebuild').map((c) => path.basename(c.file));

  it('on musl: only the musl prebuild of this ABI', () => {
    assert.deepStrictEqual(prebuilds({ LIBC: 'musl' }), [`thread-kill.abi${abi}.musl.node`]);
  });

  it('on glibc: only the glibc prebuild of this ABI', () => {
    assert.deepStrictEqual(prebuilds({ LIBC: 'glibc' }), [`thread-kill.abi${abi}.glibc.node`]);
  });

  it('without LIBC: the prebuild for the C library this process runs on', () => {
    assert.deepStrictEqual(prebuilds({}), [`thread-kill.abi${abi}.${currentLibc({})}.node`]);
  });
});
