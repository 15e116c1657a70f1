// Which addon file this process loads, and the refusal of one built for
// another Node before it is ever dlopen()ed. The addon calls V8's C++ API, so
// a binary serves exactly one Node ABI (process.versions.modules); loaded
// into another it dies on its first V8 call ("symbol lookup error", exit
// 127) with no JS error. Rules (docs/DESIGN.md, "Binaries"):
//   1. THREAD_KILL_BINARY, alone: an explicit choice never falls back.
//   2. A local build: build/Release, then build/Debug — as node-gyp-build
//      orders them: a build made here is newer than any prebuild (the
//      install step builds only when no prebuild loads; a developer's
//      `npm run build` must not be shadowed by the prebuilds `npm pack` left).
//   3. A prebuild: prebuilds/<platform>-<arch>/thread-kill.abi<N>.<libc>.node,
//      matched by node-gyp-build's tag rules (prebuildify's naming).
// Every file is read before it is loaded: the addon embeds the ABI it was
// compiled for ("thread-kill:abi=<N>;node=<major>;", native/addon.cc), and
// one for another ABI is skipped. The addon checks again in its init.
import * as fs from 'fs';
import * as path from 'path';
import { currentLibc } from './libc';

export type Origin = 'override' | 'prebuild' | 'build';
export interface Candidate { file: string; origin: Origin }

/** What a binary says it was compiled for. */
export interface BuiltFor { abi: string; node: string }

interface Tags { file: string; runtime?: string; abi?: string; napi?: boolean; libc?: string; specificity: number }
interface TagRules {
  parseTags(file: string): Tags | undefined;
  matchTags(runtime: string, abi: string): (tags: Tags | undefined) => boolean;
  compareTags(runtime: string): (a: Tags, b: Tags) => number;
}

// node-gyp-build's matcher itself (not its index.js, which on runtimes with
// a native require.addon replaces it): the tag rules prebuildify names by.
// Except the libc: node-gyp-build's own guess is /etc/alpine-release alone;
// ours is the C library mapped into this process (./libc.ts; LIBC forces).
const rules = require('node-gyp-build/node-gyp-build.js') as TagRules;

export function prebuildDir(root: string): string {
  return path.join(root, 'prebuilds', `${process.platform}-${process.arch}`);
}

/** The files to try, best first. */
export function candidates(root: string, env: NodeJS.ProcessEnv = process.env): Candidate[] {
  if (env.THREAD_KILL_BINARY) return [{ file: path.resolve(env.THREAD_KILL_BINARY), origin: 'override' }];
  const dir = prebuildDir(root);
  const files = readdir(dir);
  const libc = files.length > 0 ? currentLibc(env) : undefined; // reads /proc/self/maps: only when there is a choice
  const matches = rules.matchTags('node', process.versions.modules);
  const tags = files.map((f) => rules.parseTags(f))
    .filter((t): t is Tags => t !== undefined && (t.libc === undefined || t.libc === libc) && matches({ ...t, libc: undefined }));
  tags.sort(rules.compareTags('node'));
  return [
    { file: path.join(root, 'build', 'Release', 'thread_kill.node'), origin: 'build' },
    { file: path.join(root, 'build', 'Debug', 'thread_kill.node'), origin: 'build' },
    ...tags.map((t): Candidate => ({ file: path.join(dir, t.file), origin: 'prebuild' })),
  ];
}

const MARKER = Buffer.from('thread-kill:abi=');

/** The ABI marker of a thread-kill binary; null if it has none (not ours). */
export function builtFor(file: string): BuiltFor | null {
  const bytes = fs.readFileSync(file);
  const at = bytes.indexOf(MARKER);
  if (at < 0) return null;
  const m = /^thread-kill:abi=(\d+);node=(\d+);/.exec(bytes.subarray(at, at + 64).toString('latin1'));
  return m ? { abi: m[1], node: m[2] } : null;
}

export interface Loaded { binding: unknown; file: string; origin: Origin }

/**
 * Loads the first candidate built for this Node, or throws
 * ERR_THREAD_KILL_NO_BINARY listing every file tried and what to do.
 */
export function loadBinary(root: string): Loaded {
  const tried: string[] = [];
  let wrongAbi: BuiltFor | null = null;
  let addonsDisabled = false;
  for (const { file, origin } of candidates(root)) {
    if (!fs.existsSync(file)) {
      tried.push(`  ${file}: not found`);
      continue;
    }
    let abi: BuiltFor | null | undefined;
    try {
      abi = builtFor(file);
    } catch (err) {
      // Unreadable (e.g. the permission model without --allow-fs-read on
      // it): only dlopen can tell, and the addon's init checks the ABI.
      abi = undefined;
      tried.push(`  ${file}: not readable (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}), loading it unchecked`);
    }
    if (abi === null) {
      tried.push(`  ${file}: not a thread-kill binary of this version (no ABI marker): not loaded`);
      continue;
    }
    if (abi && abi.abi !== process.versions.modules) {
      wrongAbi ??= abi;
      tried.push(`  ${file}: built for Node.js ${abi.node} (ABI ${abi.abi}): not loaded`);
      continue;
    }
    try {
      return { binding: require(file), file, origin };
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      if (e.code === 'ERR_DLOPEN_DISABLED') addonsDisabled = true;
      tried.push(`  ${file}: ${e.message}`);
    }
  }
  throw noBinaryError(root, tried, { addonsDisabled, wrongAbi });
}

/**
 * Loads the file another thread of this process loaded (and checked): the
 * same shared object, whatever this thread's own lookup would find. Only a
 * thread's own flags can make it fail here (a Worker's --no-addons).
 */
export function loadInherited(root: string, file: string): unknown {
  try {
    return require(file);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw noBinaryError(root, [`  ${file} (the file this process loaded): ${e.message}`],
      { addonsDisabled: e.code === 'ERR_DLOPEN_DISABLED', wrongAbi: null });
  }
}

function noBinaryError(root: string, tried: string[], why: Parameters<typeof advice>[1]): Error {
  const err = new Error(
    `thread-kill: no native addon for this Node.js (${process.version}, ABI ${process.versions.modules}, ` +
    `${process.platform}-${process.arch}). Tried:\n${tried.join('\n')}\n${advice(root, why)}`,
  ) as Error & { code: string };
  err.code = 'ERR_THREAD_KILL_NO_BINARY';
  return err;
}

export type PackageManager = 'npm' | 'pnpm' | 'yarn' | 'bun';

/** Which package manager installed the package at `root`, from its layout. */
export function packageManager(root: string, env: NodeJS.ProcessEnv = process.env): PackageManager {
  const parts = root.split(path.sep);
  const versions = process.versions as Record<string, string | undefined>;
  if (parts.includes('.pnpm')) return 'pnpm';
  if (versions.bun !== undefined || parts.includes('.bun')) return 'bun';
  if (versions.pnp !== undefined || parts.includes('.yarn') || parts.includes('unplugged')) return 'yarn';
  const agent = /^(pnpm|yarn|bun)\//.exec(env.npm_config_user_agent ?? '');
  return agent ? (agent[1] as PackageManager) : 'npm';
}

/**
 * The one command that builds the addon for this Node. The npm package has
 * no install script (nothing to approve where a prebuild matches: see
 * clean-package.config.cjs), so the build is a command of its own, run
 * through the package manager's way of running a dependency's bin.
 */
const BUILD: Record<PackageManager, string> = {
  npm: 'npx thread-kill build',
  pnpm: 'pnpm exec thread-kill build',
  yarn: 'yarn thread-kill build',
  bun: 'bunx thread-kill build',
};

/** The build command for the package at `root`: a clone (not under node_modules) builds with its own script. */
export function buildCommand(root: string, env: NodeJS.ProcessEnv = process.env): string {
  if (!root.split(path.sep).includes('node_modules')) return 'npm run build';
  return BUILD[packageManager(root, env)];
}

/** What to do, in the terms of the situation (addons off, wrong ABI, nothing built). */
export function advice(root: string, why: { addonsDisabled: boolean; wrongAbi: BuiltFor | null }): string {
  if (why.addonsDisabled) {
    return (process as { permission?: unknown }).permission !== undefined
      ? 'Node.js\'s permission model is on and forbids native addons: start Node with --allow-addons ' +
        '(and --allow-fs-read covering this package). Rebuilding does not help.'
      : 'Native addons are disabled in this process or thread (--no-addons, in the command line, ' +
        'NODE_OPTIONS or a Worker\'s execArgv): thread-kill needs its addon. Rebuilding does not help.';
  }
  const abis = readdir(prebuildDir(root)).map((f) => /\.abi(\d+)\./.exec(f)?.[1]).filter(Boolean);
  const prebuilt = abis.length
    ? `Prebuilt binaries here: ${process.platform}-${process.arch}, ABI ${[...new Set(abis)].sort().join(', ')}.`
    : `No prebuilt binaries for ${process.platform}-${process.arch}.`;
  const first = why.wrongAbi
    ? `The binary found was built for Node.js ${why.wrongAbi.node}; build one for this Node: `
    : 'Build one from source: ';
  return `${prebuilt} ${first}run \`${buildCommand(root)}\`. ` +
    'A build needs a C++20 compiler, make and Python 3; it names the packages when one is missing.';
}

function readdir(dir: string): string[] {
  try {
    return fs.readdirSync(dir);
  } catch {
    return [];
  }
}
