// A binary is never loaded into a Node it was not built for, and every way
// of not having a binary ends in ERR_THREAD_KILL_NO_BINARY saying what to do.
// Everything runs in child processes: the failure this guards against is the
// process dying (exit 127, "symbol lookup error"), which a test in this
// process could not report.
import * as assert from 'assert';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { LIB, ROOT } from './helpers';

const BINARY_JS = path.join(ROOT, 'lib', 'shared', 'binary.js');
const { binaryPath } = require(path.join(ROOT, 'lib', 'shared', 'native.js')) as { binaryPath: string };

interface Outcome { status: number | null; signal: string | null; stdout: string; stderr: string }

function node(exe: string, args: string[], env: NodeJS.ProcessEnv = {}): Outcome {
  const r = spawnSync(exe, args, {
    cwd: ROOT, encoding: 'utf8', timeout: 60_000, env: { ...process.env, ...env },
  });
  return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

/** Loads `what` in a child and prints {code, message} of what it threw (or "loaded"). */
function tryLoad(exe: string, what: string, flags: string[] = [], env: NodeJS.ProcessEnv = {}, before = '') {
  const out = node(exe, [...flags, '-e', `
    ${before}
    try { require(${JSON.stringify(what)}); console.log(JSON.stringify({ loaded: true })); }
    catch (e) { console.log(JSON.stringify({ code: e.code, message: e.message })); }
  `], env);
  assert.strictEqual(out.signal, null, `child killed by ${out.signal}: ${out.stderr}`);
  assert.strictEqual(out.status, 0, `child exit ${out.status} (127 is the symbol-lookup crash):\n${out.stderr}`);
  return JSON.parse(out.stdout.trim().split('\n').pop() as string) as { loaded?: true; code?: string; message: string };
}

/** Other Node builds on this machine: THREAD_KILL_OTHER_NODES (":"-separated), or the CI cache. */
function otherNodes(): string[] {
  const listed = (process.env.THREAD_KILL_OTHER_NODES ?? '').split(path.delimiter).filter(Boolean);
  const cache = path.join(ROOT, '.node-matrix');
  const cached = fs.existsSync(cache)
    ? fs.readdirSync(cache).map((d) => path.join(cache, d, 'package', 'bin', 'node')).filter((f) => fs.existsSync(f))
    : [];
  const modules = (exe: string) => node(exe, ['-p', 'process.versions.modules']).stdout.trim();
  return [...new Set([...listed, ...cached])].filter((exe) => modules(exe) !== process.versions.modules);
}

describe('ABI safety: a binary for another Node is refused, never crashes', () => {
  const others = otherNodes();

  it('the loaded binary carries the ABI it was compiled for, and it is this Node\'s', () => {
    const out = node(process.execPath, ['-p', `JSON.stringify(require(${JSON.stringify(BINARY_JS)}).builtFor(${JSON.stringify(binaryPath)}))`]);
    assert.deepStrictEqual(JSON.parse(out.stdout), {
      abi: process.versions.modules, node: process.versions.node.split('.')[0],
    });
  });

  for (const exe of others) {
    const label = node(exe, ['-p', '`Node ${process.versions.node} (ABI ${process.versions.modules})`']).stdout.trim();

    it(`under ${label}: the library refuses this Node's binary before loading it`, () => {
      const r = tryLoad(exe, LIB, [], { THREAD_KILL_BINARY: binaryPath });
      assert.strictEqual(r.code, 'ERR_THREAD_KILL_NO_BINARY', r.message);
      assert.match(r.message, new RegExp(`built for Node\\.js ${process.versions.node.split('.')[0]} \\(ABI ${process.versions.modules}\\): not loaded`));
      // The library here is a clone's (not under node_modules): its own build script.
      assert.match(r.message, /build one for this Node: run `npm run build`/);
    });

    it(`under ${label}: the binary itself, required directly, refuses to initialise`, () => {
      const r = tryLoad(exe, binaryPath);
      assert.strictEqual(r.code, 'ERR_THREAD_KILL_ABI_MISMATCH', r.message);
      assert.match(r.message, new RegExp(`built for Node\\.js ${process.versions.node.split('.')[0]} \\(ABI ${process.versions.modules}\\)`));
      assert.match(r.message, /build one with this Node: `npx thread-kill build` \(`npm run build` in a clone\)/);
    });
  }

  it('another Node to load this binary under is available (or the cross-version cases are skipped)', function () {
    // CI sets THREAD_KILL_REQUIRE_OTHER_NODE: there a missing matrix is a failure, not a skip.
    if (others.length === 0 && !process.env.THREAD_KILL_REQUIRE_OTHER_NODE) this.skip();
    assert.ok(others.length > 0, 'no Node with another ABI found (.node-matrix/ or THREAD_KILL_OTHER_NODES)');
  });

  it('the addon refuses to initialise when the running ABI differs from its own (second guard)', () => {
    // The same check as under another Node, provoked here: the addon reads
    // process.versions.modules through Node-API before any V8 call.
    const r = tryLoad(process.execPath, binaryPath, [], {},
      "Object.defineProperty(process.versions, 'modules', { value: '999' });");
    assert.strictEqual(r.code, 'ERR_THREAD_KILL_ABI_MISMATCH', r.message);
    assert.match(r.message, /loaded in Node\.js \d+ \(ABI 999\)/);
  });

  it('a binary whose marker names another ABI is not even opened', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tk-abi-'));
    try {
      const bytes = fs.readFileSync(binaryPath);
      const marker = Buffer.from(`thread-kill:abi=${process.versions.modules};`);
      const at = bytes.indexOf(marker);
      assert.ok(at >= 0, 'no ABI marker in the binary');
      const fake = Buffer.from(`thread-kill:abi=${'9'.repeat(process.versions.modules.length)};`);
      fake.copy(bytes, at);
      const file = path.join(dir, 'thread_kill.node');
      fs.writeFileSync(file, bytes);
      const r = tryLoad(process.execPath, LIB, [], { THREAD_KILL_BINARY: file },
        // Had the loader dlopen()ed it, the file would be in the maps.
        "process.on('exit', () => { if (require('fs').readFileSync('/proc/self/maps', 'utf8').includes(process.env.THREAD_KILL_BINARY)) console.log('{\"message\":\"mapped\"}'); });");
      assert.strictEqual(r.code, 'ERR_THREAD_KILL_NO_BINARY', r.message);
      assert.match(r.message, /\(ABI 9+\): not loaded/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a .node file without the marker (not a thread-kill build) is not loaded', () => {
    const other = path.join(ROOT, 'test', 'fixtures', 'addon', 'build', 'Release', 'hang_fixture.node');
    const r = tryLoad(process.execPath, LIB, [], { THREAD_KILL_BINARY: other });
    assert.strictEqual(r.code, 'ERR_THREAD_KILL_NO_BINARY', r.message);
    assert.match(r.message, /no ABI marker\): not loaded/);
  });
});

describe('which binary: a local build before the prebuilds (node-gyp-build\'s order)', () => {
  it('a build in build/Release is not shadowed by a prebuild for the same Node that npm pack left', () => {
    const { candidates } = require(BINARY_JS) as { candidates(root: string, env: object): Array<{ file: string; origin: string }> };
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'tk-order-'));
    const dir = path.join(root, 'prebuilds', `${process.platform}-${process.arch}`);
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, `thread-kill.abi${process.versions.modules}.glibc.node`), '');
    const order = candidates(root, {}).map((c) => `${c.origin}:${path.relative(root, c.file)}`);
    assert.deepStrictEqual(order, [
      `build:${path.join('build', 'Release', 'thread_kill.node')}`,
      `build:${path.join('build', 'Debug', 'thread_kill.node')}`,
      `prebuild:${path.join('prebuilds', `${process.platform}-${process.arch}`, `thread-kill.abi${process.versions.modules}.glibc.node`)}`,
    ]);
  });
});

describe('no binary: the error says what to do in the situation at hand', () => {
  const missing = path.join(os.tmpdir(), 'thread-kill-no-such-binary.node');

  it('--no-addons: says so, and not to rebuild', () => {
    const r = tryLoad(process.execPath, LIB, ['--no-addons']);
    assert.strictEqual(r.code, 'ERR_THREAD_KILL_NO_BINARY', r.message);
    assert.match(r.message, /--no-addons/);
    assert.match(r.message, /Rebuilding does not help/);
    assert.doesNotMatch(r.message, /thread-kill build|npm run build/);
  });

  it('the permission model without --allow-addons: names --allow-addons', () => {
    const flag = process.allowedNodeEnvironmentFlags.has('--permission') ? '--permission' : '--experimental-permission';
    const r = tryLoad(process.execPath, LIB, [flag, '--allow-fs-read=*', '--no-warnings']);
    assert.strictEqual(r.code, 'ERR_THREAD_KILL_NO_BINARY', r.message);
    assert.match(r.message, /permission model .*--allow-addons/);
    assert.doesNotMatch(r.message, /thread-kill build|npm run build/);
  });

  // The package has no install script: the error names the one build command, in the installer's terms.
  for (const [agent, command] of [
    ['npm/11.0.0 node/v22', 'npx thread-kill build'],
    ['pnpm/10.0.0 npm/? node/v22', 'pnpm exec thread-kill build'],
    ['yarn/4.0.0 npm/? node/v22', 'yarn thread-kill build'],
    ['bun/1.2.0 npm/? node/v22', 'bunx thread-kill build'],
  ] as const) {
    it(`installed by ${agent.split('/')[0]}: the command that builds the addon`, () => {
      const out = node(process.execPath, ['-p', `require(${JSON.stringify(BINARY_JS)}).buildCommand(${JSON.stringify(
        path.join('/app', 'node_modules', 'thread-kill'))}, { npm_config_user_agent: ${JSON.stringify(agent)} })`]);
      assert.strictEqual(out.stdout.trim(), command);
    });
  }

  it('a missing binary in a clone: `npm run build`', () => {
    const r = tryLoad(process.execPath, LIB, [], { THREAD_KILL_BINARY: missing });
    assert.strictEqual(r.code, 'ERR_THREAD_KILL_NO_BINARY', r.message);
    assert.match(r.message, /not found/);
    assert.match(r.message, /run `npm run build`\. A build needs/);
  });

  it('a pnpm layout (node_modules/.pnpm) is recognised without a user agent', () => {
    const out = node(process.execPath, ['-p', `require(${JSON.stringify(BINARY_JS)}).packageManager(${JSON.stringify(
      path.join('/app', 'node_modules', '.pnpm', 'thread-kill@0.1.0', 'node_modules', 'thread-kill'))}, {})`]);
    assert.strictEqual(out.stdout.trim(), 'pnpm');
  });
});

describe('headers: the running Node\'s own, npm\'s nodedir only at exactly this version', () => {
  const NODE_GYP_JS = path.join(ROOT, 'scripts', 'node-gyp.js');

  function headersWith(nodedir: string | undefined): { dir: string | null; note: string } {
    const env: NodeJS.ProcessEnv = { ...process.env };
    delete env.npm_config_nodedir;
    if (nodedir !== undefined) env.npm_config_nodedir = nodedir;
    const r = spawnSync(process.execPath, ['-p', `JSON.stringify(require(${JSON.stringify(NODE_GYP_JS)}).localHeaders())`],
      { encoding: 'utf8', env });
    assert.strictEqual(r.status, 0, r.stderr);
    return JSON.parse(r.stdout);
  }

  function fakeHeaders(version: string): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tk-headers-'));
    const [major, minor, patch] = version.split('.');
    fs.mkdirSync(path.join(dir, 'include', 'node'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'include', 'node', 'node_version.h'),
      `#define NODE_MAJOR_VERSION ${major}\n#define NODE_MINOR_VERSION ${minor}\n#define NODE_PATCH_VERSION ${patch}\n`);
    return dir;
  }

  const own = path.resolve(path.dirname(process.execPath), '..');

  it('a nodedir with another version\'s headers is ignored for the running Node\'s', () => {
    const dir = fakeHeaders('18.20.0');
    try {
      const h = headersWith(dir);
      assert.strictEqual(h.dir, own);
      assert.match(h.note, /has Node 18\.20\.0 headers, not .*: ignored/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a nodedir with exactly this version\'s headers is used', () => {
    const dir = fakeHeaders(process.versions.node);
    try {
      assert.strictEqual(headersWith(dir).dir, dir);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('no nodedir: the headers beside the running node', () => {
    assert.strictEqual(headersWith(undefined).dir, own);
  });
});
