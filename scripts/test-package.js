#!/usr/bin/env node
'use strict';
// npm run test:package: the "real install" check. The unit tests run against
// the repo's own lib/ and build/, so they cannot notice a packaging mistake (a
// file left out of "files", a wrong exports/types path, an install script that
// only works inside the repo, a prebuild missing). Here we do what a user
// does: pack the repo, install the tarball into fresh projects outside the
// repo, then load it from CommonJS and ESM, type-check against it, and kill a
// hung worker with it. Every install is npm 11's with --strict-allow-scripts
// and nothing approved: the package has no install script, so none may be
// asked for (and nothing about allowScripts printed). Installs:
//   prebuilt      no compiler, make or Python on PATH: the prebuild for this
//                 Node must be used, and nothing compiled;
//   from source   the package without its prebuilds (a platform with none),
//                 with the toolchain: the install runs nothing; the error at
//                 require names `npx thread-kill build`, which builds it
//                 inside node_modules, where it then loads;
//   no toolchain  the same without one: `npx thread-kill build` fails with
//                 the one line that names what to install.
//
// Options: --tarball <file> tests that tarball instead of packing (the CI
// matrix packs once and tests it under every Node); --quick leaves out the
// type checks (Node-independent: run once, on the main Node).
// Prints "ok <name>" or "FAILED <name>: <why>" per check, then
// "N passed, M failed". With THREAD_KILL_RESULTS set, also writes
// {"passed":N,"failed":M,"failures":[...]} there (.ci/run sums those files
// and lists the failures again at its end).
// Temp dirs are removed on success and kept (path printed) on failure.
const { spawnSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const repo = path.resolve(__dirname, '..');
const { FLOOR, floorViolations } = require('./check-glibc-floor.js');

// Registry versions the consumer project gets, matching the repo's own
// devDependencies so a type error here is the package's fault, not a skew.
const TYPESCRIPT = 'typescript@~5.9.3';
const TYPES_NODE = '@types/node@^20.19.0';

let passed = 0;
let failed = 0;
const failures = [];
function pass(name) {
  passed++;
  console.log(`ok ${name}`);
}
function fail(name, why) {
  failed++;
  failures.push(`${name}: ${String(why).trim().split('\n')[0].slice(0, 300)}`);
  console.log(`FAILED ${name}: ${String(why).trim().replace(/\n/g, '\n    ')}`);
}
/** Runs fn; a throw is that check's failure. Returns whether it passed. */
function check(name, fn) {
  try {
    const note = fn();
    pass(note ? `${name} (${note})` : name);
    return true;
  } catch (err) {
    fail(name, err && err.message ? err.message : err);
    return false;
  }
}

/**
 * The environment for everything run in the consumer project. Under
 * `npm run`, npm exports the repo as the local prefix (npm_config_local_prefix,
 * INIT_CWD, npm_package_*) and puts the repo's node_modules/.bin first on PATH;
 * a nested npm or a bare `tsc` could then quietly use the repo. Drop all of
 * that so the installed package has to stand on its own; keep the user's other
 * npm settings (registry, cache, nodedir) since a real user has them too.
 */
function consumerEnv() {
  const env = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (/^npm_(package|lifecycle)_/i.test(key)) continue;
    if (/^(INIT_CWD|NODE_PATH|npm_config_local_prefix|npm_package_json|npm_command)$/i.test(key)) continue;
    if (key !== 'PATH' && value.includes(repo)) continue;
    env[key] = value;
  }
  // This Node first, even when it lives in the repo (the CI matrix's
  // .node-matrix/): npm and the install script must run under the Node tested.
  env.PATH = [path.dirname(process.execPath), ...(process.env.PATH || '')
    .split(path.delimiter)
    .filter((dir) => dir && !path.resolve(dir).startsWith(repo + path.sep) && path.resolve(dir) !== repo)]
    .join(path.delimiter);
  return env;
}

/** spawnSync that throws a readable error (command, exit status, output tail). */
function run(cmd, args, { cwd, env, timeoutMs = 120_000 }) {
  const r = spawnSync(cmd, args, { cwd, env, encoding: 'utf8', timeout: timeoutMs, maxBuffer: 64 << 20 });
  const output = `${r.stdout || ''}${r.stderr || ''}`;
  if (r.error || r.status !== 0) {
    const how = r.error ? r.error.message : r.signal ? `killed by ${r.signal}` : `exit code ${r.status}`;
    const tail = output.trim().split('\n').slice(-25).join('\n');
    throw new Error(`\`${[cmd, ...args].join(' ')}\` failed (${how})${tail ? `:\n${tail}` : ''}`);
  }
  return r.stdout || '';
}

/** Every file path the packed package.json points at (main, types, bin, exports). */
function entryPoints(pkg) {
  const paths = new Set();
  const add = (value) => {
    if (typeof value === 'string') paths.add(path.posix.normalize(value));
    else if (value && typeof value === 'object') Object.values(value).forEach(add);
  };
  add(pkg.main);
  add(pkg.types);
  add(pkg.typings);
  add(pkg.bin);
  add(pkg.exports);
  return [...paths];
}

/** Files under dir (recursively) whose bytes mention needle (other than as part of `allowed`). */
function filesMentioning(dir, needle, allowed) {
  const hits = [];
  const walk = (d) => {
    for (const entry of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, entry.name);
      if (entry.isDirectory()) walk(p);
      else if (entry.isFile()) {
        const text = fs.readFileSync(p, 'latin1');
        if (text.includes(needle) && (!allowed || text.split(allowed).join('').includes(needle))) hits.push(path.relative(dir, p));
      }
    }
  };
  walk(dir);
  return hits;
}

// ---------------------------------------------------------------------------
// Consumer-side sources, written into the temp project.

// CommonJS: loads, and the addon it loaded is the one this install should
// use inside node_modules/thread-kill ($EXPECTED_ADDON: the prebuild, or the
// build made in place; never a repo build/), and no loaded module lives
// outside the project.
const CJS_CHECK = `
const assert = require('assert');
const path = require('path');
const tk = require('thread-kill');
for (const name of ['kill', 'threads', 'KillableWorker', 'interruptible', 'StopToken', 'InterruptedError']) {
  assert.strictEqual(typeof tk[name], 'function', name + ' is not exported');
}
const loaded = Object.keys(require.cache);
const addons = loaded.filter((f) => f.endsWith('.node'));
const expected = path.join(process.cwd(), 'node_modules', 'thread-kill', process.env.EXPECTED_ADDON);
assert.deepStrictEqual(addons, [expected], 'loaded addon(s): ' + addons.join(', '));
const outside = loaded.filter((f) => !f.startsWith(process.cwd() + path.sep));
assert.deepStrictEqual(outside, [], 'modules loaded from outside the project');
console.log(path.relative(process.cwd(), expected));
`;

// ESM: named imports work, and import and require() share one instance (the
// .mjs entry re-exports the CommonJS build; two copies would register the
// thread twice).
const ESM_CHECK = `
import assert from 'node:assert';
import { createRequire } from 'node:module';
import { kill, threads } from 'thread-kill';
import * as ns from 'thread-kill';
assert.strictEqual(typeof kill, 'function');
assert.strictEqual(typeof threads, 'function');
assert.strictEqual(kill, createRequire(import.meta.url)('thread-kill').kill, 'import and require() load different copies');
const main = threads().filter((t) => t.isMainThread);
assert.strictEqual(main.length, 1, 'main thread registered ' + main.length + ' times');
console.log(Object.keys(ns).length + ' exports');
`;

// Type usage. The @ts-expect-error lines fail the compile if the types
// silently resolve to \`any\` (which would also "compile with zero errors").
const TYPES_CHECK = `
import {
  kill, KillReport, KillableWorker, interruptible, InterruptedError, StopToken, threads,
  type KillOptions, type ThreadInfo,
} from 'thread-kill';
import type { stress, StressReport } from 'thread-kill/stress';

export async function usage(): Promise<KillReport> {
  const worker = new KillableWorker('for (;;) {}', { eval: true, name: 'hung' });
  const found: ThreadInfo | undefined = threads().find((t) => t.threadId === worker.threadId);
  const token = new StopToken();
  token.stop('bye');
  const stopped: boolean = token.stopped;
  const signal: AbortSignal = token.signal;
  void stopped; void signal; void found;

  const n: number = interruptible(() => 42);
  try {
    interruptible(() => { for (;;) {} });
  } catch (e) {
    if (e instanceof InterruptedError) {
      const code: 'ERR_THREAD_INTERRUPTED' = e.code;
      void code; void e.reason;
    }
  }
  void n;

  const options: KillOptions = { graceMs: 50, timeoutMs: 1000, cleanup: (r: KillReport) => r.outcome };
  const report = await kill(worker, options);
  const outcome: 'killed' | 'already-exited' | 'unkillable' = report.outcome;
  void outcome;
  // @ts-expect-error outcome is a union of literals, not any/string
  const bogus: KillReport['outcome'] = 'nope';
  void bogus;
  // @ts-expect-error kill() needs a target
  void kill();
  return worker.kill();
}

export type Stress = typeof stress;
export async function runStress(run: Stress): Promise<boolean> {
  const report: StressReport = await run({ rounds: 1, scenarios: ['busy-loop'] });
  // @ts-expect-error rounds is a number
  void run({ rounds: 'many' });
  return report.ok;
}
`;

/** A tsconfig for the consumer project; strict, and the package's .d.ts files are checked too. */
function tsconfig(module, moduleResolution, files) {
  return JSON.stringify({
    compilerOptions: {
      target: 'ES2022', module, moduleResolution, strict: true, noEmit: true,
      skipLibCheck: false, types: ['node'],
    },
    files,
  }, null, 2);
}

// Kill a worker stuck in a busy loop. Registration is polled on setImmediate
// turns (no fixed sleep to be too short on a slow machine or waste time on a
// fast one); the deadline only turns a never-registering worker into a clear
// failure instead of a hang.
const KILL_CHECK = `
import assert from 'node:assert';
import { kill, threads, KillableWorker } from 'thread-kill';
const worker = new KillableWorker('for (;;) {}', { eval: true, name: 'hung' });
const id = worker.threadId;
const deadline = Date.now() + 30_000;
while (!threads().some((t) => t.threadId === id && t.state === 'running')) {
  assert(Date.now() < deadline, 'worker ' + id + ' never showed up in threads()');
  await new Promise((resolve) => setImmediate(resolve));
}
const report = await kill(worker);
assert.strictEqual(report.outcome, 'killed', JSON.stringify(report));
assert.strictEqual(await worker.join(10_000), true, 'no exit event after kill');
console.log('killed thread ' + id + ' in ' + report.elapsedMs.toFixed(1) + ' ms');
`;

// ---------------------------------------------------------------------------

function argValue(name) {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

/** The supported majors, from engines: "^20.10.0 || ^22.0.0 ..." → ['20', '22', ...]. */
function supportedMajors(pkg) {
  return [...pkg.engines.node.matchAll(/\^(\d+)/g)].map((m) => m[1]);
}

// What a slim image (node:*-slim, distroless-ish) lacks: compilers, make, Python.
const TOOLCHAIN = /^(cc|c\+\+|cpp|gcc|g\+\+|clang|clang\+\+|make|gmake|python|python3)([-.\d]*)$|-(gcc|g\+\+|c\+\+|cc)([-.\d]*)$/;

/**
 * A PATH like this one minus every compiler, make and Python (each PATH
 * entry's executables linked into one directory, first one wins), with this
 * Node first: the no-toolchain install of a slim Docker image.
 */
function bareBin(tmp, pathValue) {
  const bin = path.join(tmp, 'bare-bin');
  fs.mkdirSync(bin);
  fs.symlinkSync(process.execPath, path.join(bin, 'node'));
  for (const dir of pathValue.split(path.delimiter).filter(Boolean)) {
    let names = [];
    try { names = fs.readdirSync(dir); } catch { continue; }
    for (const name of names) {
      if (TOOLCHAIN.test(name) || fs.existsSync(path.join(bin, name))) continue;
      try { fs.symlinkSync(path.join(dir, name), path.join(bin, name)); } catch { /* raced or odd name */ }
    }
  }
  return bin;
}

/** The tarball's own rules: what it ships, and that nothing in it points at what it does not. */
function checkTarball(tarball, extracted) {
  const listing = run('tar', ['-tzf', tarball], { cwd: extracted }).split('\n').filter(Boolean);
  const files = new Set(listing.map((f) => f.replace(/^package\//, '')));
  run('tar', ['-xzf', tarball, '-C', extracted], { cwd: extracted });
  const pkgDir = path.join(extracted, 'package');
  const pkg = JSON.parse(fs.readFileSync(path.join(pkgDir, 'package.json'), 'utf8'));

  check('tarball has every entry point', () => {
    const missing = entryPoints(pkg).filter((p) => !files.has(p));
    if (missing.length) throw new Error(`package.json points at files not in the tarball: ${missing.join(', ')}`);
    // A packed build/ would let a stale repo binary stand in for the install-time build.
    const built = [...files].filter((f) => f.startsWith('build/'));
    if (built.length) throw new Error(`tarball contains build output: ${built.slice(0, 5).join(', ')}`);
    return `${files.size} files`;
  });

  // Every prebuilt arch (linux-x64 packs linux-arm64 too: scripts/prebuild.js).
  const prebuildArches = process.platform === 'linux' && process.arch === 'x64' ? ['x64', 'arm64'] : [process.arch];
  for (const arch of prebuildArches) {
    const dir = `prebuilds/${process.platform}-${arch}/`;
    check(`tarball has a ${process.platform}-${arch} prebuild for every supported Node`, () => {
      const found = [...files].filter((f) => f.startsWith(dir)).map((f) => {
        const m = /thread-kill:abi=(\d+);node=(\d+);/.exec(fs.readFileSync(path.join(pkgDir, f), 'latin1'));
        if (!m) throw new Error(`${f} has no ABI marker`);
        if (path.basename(f) !== `thread-kill.abi${m[1]}.glibc.node`) throw new Error(`${f} is built for ABI ${m[1]}`);
        return m[2];
      });
      const want = supportedMajors(pkg);
      if (found.sort().join() !== want.sort().join()) {
        throw new Error(`prebuilds for Node ${found.join(', ') || 'none'}; engines says ${want.join(', ')}`);
      }
      return `Node ${found.join(', ')}`;
    });
  }

  // Loadable wherever official Node runs: nothing newer than its glibc and
  // libstdc++ floor, read from each binary's symbol versions.
  if (process.platform === 'linux') {
    check(`every prebuild in the tarball needs at most ${FLOOR.text}`, () => {
      const nodes = [...files].filter((f) => f.endsWith('.node'));
      if (nodes.length === 0) throw new Error('no .node files in the tarball');
      const bad = nodes.map((f) => [f, floorViolations(path.join(pkgDir, f))]).filter(([, v]) => v.length);
      if (bad.length) throw new Error(bad.map(([f, v]) => `${f} needs ${v.join(', ')}`).join('; '));
      return `${nodes.length} binaries`;
    });
  }

  check('tarball: no install script, no root binding.gyp (nothing for a package manager to run or approve)', () => {
    const scripts = Object.keys(pkg.scripts || {}).filter((k) => /^(preinstall|install|postinstall|prepare)$/.test(k));
    if (scripts.length) throw new Error(`install-time scripts: ${scripts.join(', ')}`);
    if (files.has('binding.gyp')) throw new Error('binding.gyp at the package root (npm, pnpm, Yarn and Bun add `node-gyp rebuild` for it)');
    if (!files.has('native/binding.gyp')) throw new Error('no native/binding.gyp: `thread-kill build` would have nothing to build');
  });

  check('tarball: LICENSE, os, typesVersions', () => {
    if (!files.has('LICENSE') || !/MIT License/.test(fs.readFileSync(path.join(pkgDir, 'LICENSE'), 'utf8'))) {
      throw new Error('no MIT LICENSE file');
    }
    if (!Array.isArray(pkg.os) || !pkg.os.includes(process.platform)) throw new Error(`"os": ${JSON.stringify(pkg.os)}`);
    for (const sub of Object.keys(pkg.exports).filter((k) => k.startsWith('./') && pkg.exports[k].types)) {
      const mapped = ((pkg.typesVersions || {})['*'] || {})[sub.slice(2)];
      if (!mapped || path.posix.normalize(mapped[0]) !== path.posix.normalize(pkg.exports[sub].types)) {
        throw new Error(`typesVersions does not map ${sub} to ${pkg.exports[sub].types}`);
      }
    }
  });

  check('tarball refers to no file it does not ship', () => {
    const problems = [];
    const shipped = (p) => {
      const n = path.posix.normalize(p).replace(/\/+$/, ''); // a link to a folder ends in /
      return files.has(n) || [...files].some((f) => f.startsWith(`${n}/`));
    };
    // Source maps: every source they name.
    for (const f of [...files].filter((x) => x.endsWith('.map'))) {
      const map = JSON.parse(fs.readFileSync(path.join(pkgDir, f), 'utf8'));
      for (const src of map.sources) {
        const rel = path.posix.join(path.posix.dirname(f), map.sourceRoot || '', src);
        if (!shipped(rel)) problems.push(`${f} -> ${rel}`);
      }
    }
    // npm scripts: every file of the package they run.
    for (const [name, cmd] of Object.entries(pkg.scripts || {})) {
      for (const m of cmd.matchAll(/(?:^|\s)((?:scripts|lib|test|bench|src)\/[\w./-]+|[\w.-]+\.json)/g)) {
        if (!shipped(m[1])) problems.push(`script "${name}" -> ${m[1]}`);
      }
    }
    // README links to files of the repo.
    const readme = fs.readFileSync(path.join(pkgDir, 'README.md'), 'utf8');
    for (const m of readme.matchAll(/\]\((?!https?:|#)([^)#\s]+)/g)) {
      if (!shipped(m[1])) problems.push(`README.md -> ${m[1]}`);
    }
    if (problems.length) throw new Error(problems.join('\n'));
  });
  return pkg;
}

function main() {
  const tmp = fs.mkdtempSync(path.join(fs.realpathSync(os.tmpdir()), 'thread-kill-package-'));
  const packDir = path.join(tmp, 'pack');
  const extracted = path.join(tmp, 'extracted');
  fs.mkdirSync(packDir);
  fs.mkdirSync(extracted);
  const env = consumerEnv();
  const node = process.execPath;
  const quick = process.argv.includes('--quick');
  let tarball = argValue('--tarball') ? path.resolve(argValue('--tarball')) : null;

  // npm pack runs "prepack" (the prebuilds), "prepare" (tsc +
  // write-esm-entry.js) and "postpack" (removes the prebuilds again).
  if (!tarball) {
    check('npm pack', () => {
      run('npm', ['pack', '--pack-destination', packDir], { cwd: repo, env: process.env, timeoutMs: 900_000 });
      const tgz = fs.readdirSync(packDir).filter((f) => f.endsWith('.tgz'));
      if (tgz.length !== 1) throw new Error(`expected one tarball in ${packDir}, found: ${tgz.join(', ') || 'none'}`);
      tarball = path.join(packDir, tgz[0]);
      return tgz[0];
    });
  }
  if (!tarball) fail('tarball', 'not run (no tarball)');
  else checkTarball(tarball, extracted);

  // The same package without its prebuilds: what a platform with none
  // (linux-arm64, musl) installs, so the source build is the one loaded.
  let sourceOnly = null;
  if (tarball) {
    check('tarball without prebuilds (as on a platform with none)', () => {
      const dir = path.join(tmp, 'source-only');
      fs.cpSync(path.join(extracted, 'package'), path.join(dir, 'package'), { recursive: true });
      fs.rmSync(path.join(dir, 'package', 'prebuilds'), { recursive: true, force: true });
      sourceOnly = path.join(packDir, 'thread-kill-source-only.tgz');
      run('tar', ['-czf', sourceOnly, '-C', dir, 'package'], { cwd: dir });
      return path.basename(sourceOnly);
    });
  }

  const bare = bareBin(tmp, env.PATH);
  const abiFile = `prebuilds/${process.platform}-${process.arch}/thread-kill.abi${process.versions.modules}.glibc.node`;
  const installs = [
    { name: 'prebuilt', source: false, path: bare, addon: abiFile, types: !quick },
    { name: 'from source', source: true, path: env.PATH, addon: 'build/Release/thread_kill.node', types: false },
  ];

  for (const inst of installs) {
    const project = path.join(tmp, inst.name.replace(/\W+/g, '-'));
    fs.mkdirSync(project);
    const penv = { ...env, PATH: inst.path, EXPECTED_ADDON: inst.addon };
    let installed = false;
    const label = (what) => `[${inst.name}, Node ${process.versions.node}] ${what}`;
    const file = inst.source ? sourceOnly : tarball;
    if (!file) fail(label('npm install'), 'not run (no tarball)');
    else installed = check(label('npm install --strict-allow-scripts (nothing approved)'), () => {
      run('npm', ['init', '-y'], { cwd: project, env: penv });
      // The tarball path is the only thing from outside the project passed in.
      const deps = inst.types ? [TYPESCRIPT, TYPES_NODE] : [];
      const out = run('npm', ['install', '--strict-allow-scripts', '--no-audit', '--no-fund', '--foreground-scripts', file, ...deps],
        { cwd: project, env: penv, timeoutMs: 600_000 });
      if (/allowScripts|install-scripts|approve/i.test(out)) throw new Error(`npm asked about install scripts:\n${out}`);
      const root = path.join(project, 'node_modules', 'thread-kill');
      if (fs.existsSync(path.join(root, 'build'))) throw new Error(`the install compiled (build/ exists):\n${out}`);
      if (inst.source) {
        // Nothing was built: the error at require names the one command, which builds it.
        const r = spawnSync(node, ['-e', "require('thread-kill')"], { cwd: project, env: penv, encoding: 'utf8' });
        if (r.status === 0 || !/run `npx thread-kill build`/.test(r.stderr)) throw new Error(`require did not name \`npx thread-kill build\`:\n${r.stderr}`);
        const built = run('npx', ['thread-kill', 'build'], { cwd: project, env: penv, timeoutMs: 600_000 });
        if (fs.existsSync(path.join(root, 'binding.gyp'))) throw new Error('binding.gyp left at the package root after the build');
        if (!fs.existsSync(path.join(root, inst.addon))) throw new Error(`no ${inst.addon} after \`npx thread-kill build\`:\n${built}`);
        return `nothing run at install; \`npx thread-kill build\` built ${inst.addon}`;
      }
      if (!fs.existsSync(path.join(root, inst.addon))) throw new Error(`no ${inst.addon} after the install:\n${out}`);
      return `uses ${inst.addon}, no script run, nothing compiled`;
    });

    const inProject = (checkName, fn) => (installed ? check(label(checkName), fn) : fail(label(checkName), 'not run (install failed)'));
    const write = (file, text) => fs.writeFileSync(path.join(project, file), text);

    inProject('installed package does not refer to the repo', () => {
      // A source build names the headers it used: this Node's, which in the
      // CI matrix live in the repo's .node-matrix/ (a fact of CI, not a leak).
      const hits = filesMentioning(path.join(project, 'node_modules', 'thread-kill'), repo,
        path.resolve(path.dirname(process.execPath), '..'));
      if (hits.length) throw new Error(`mention ${repo}: ${hits.join(', ')}`);
    });

    inProject('require', () => {
      write('check-cjs.js', CJS_CHECK);
      return run(node, ['check-cjs.js'], { cwd: project, env: penv }).trim();
    });

    inProject('import', () => {
      write('check-esm.mjs', ESM_CHECK);
      return run(node, ['check-esm.mjs'], { cwd: project, env: penv }).trim();
    });

    if (inst.types) {
      // node16 type-checks a CommonJS-mode .ts (the "require" view: the
      // project is "type": "commonjs") and an ESM-mode .mts (the "import"
      // view) of the same code; bundler is what Vite/esbuild/webpack users
      // compile with; node (node10) is the legacy resolution that knows no
      // "exports" and needs typesVersions for the subpaths.
      const tsc = path.join(project, 'node_modules', 'typescript', 'bin', 'tsc');
      const typeConfigs = [
        ['node16', 'node16', ['usage.ts', 'usage.mts']],
        ['esnext', 'bundler', ['usage.ts']],
        ['commonjs', 'node', ['usage.ts']],
      ];
      for (const [module, resolution, files] of typeConfigs) {
        inProject(`types (module ${module}, moduleResolution ${resolution})`, () => {
          write('usage.ts', TYPES_CHECK);
          write('usage.mts', TYPES_CHECK);
          const config = `tsconfig.${resolution}.json`;
          write(config, tsconfig(module, resolution, files));
          run(node, [tsc, '-p', config], { cwd: project, env: penv });
        });
      }
    }

    inProject('kill a hung KillableWorker', () => {
      write('check-kill.mjs', KILL_CHECK);
      // The timeout also catches a process that does not exit after the kill.
      return run(node, ['check-kill.mjs'], { cwd: project, env: penv, timeoutMs: 60_000 }).trim();
    });
  }

  // No prebuild for this platform and no toolchain: the install runs nothing;
  // the build command fails with one message naming what to install.
  if (sourceOnly) {
    check(`[no toolchain, Node ${process.versions.node}] \`npx thread-kill build\` says what to install`, () => {
      const project = path.join(tmp, 'no-toolchain');
      fs.mkdirSync(project);
      const penv = { ...env, PATH: bare };
      run('npm', ['init', '-y'], { cwd: project, env: penv });
      run('npm', ['install', '--strict-allow-scripts', '--no-audit', '--no-fund', sourceOnly], { cwd: project, env: penv, timeoutMs: 300_000 });
      const r = spawnSync('npx', ['thread-kill', 'build'], { cwd: project, env: penv, encoding: 'utf8', timeout: 300_000 });
      const out = `${r.stdout}${r.stderr}`;
      if (r.status === 0) throw new Error(`the build succeeded without a toolchain:\n${out}`);
      const line = out.split('\n').find((l) => /^thread-kill: .*(apt-get|dnf|apk|pacman|zypper|xcode-select|install a C\+\+20)/.test(l));
      if (!line || !/npx thread-kill build/.test(line)) throw new Error(`no install hint in the output:\n${out}`);
      if (/gyp ERR!/.test(out)) throw new Error(`node-gyp ran anyway:\n${out}`);
      return line.replace(/^thread-kill: /, '');
    });
  }

  if (process.env.THREAD_KILL_RESULTS) {
    fs.writeFileSync(process.env.THREAD_KILL_RESULTS, JSON.stringify({ passed, failed, failures }));
  }
  if (failed === 0) fs.rmSync(tmp, { recursive: true, force: true });
  else console.log(`temp files kept for inspection: ${tmp}`);
  console.log(`${passed} passed, ${failed} failed`);
  process.exitCode = failed === 0 ? 0 : 1;
}

main();
