// A user's project in a temp directory, for the runner integrations: this
// package as installed (package.json and lib/ copied into
// node_modules/thread-kill, so that it resolves the project's runner as a
// user's install does; build/ linked), the runners linked from the repo's
// node_modules (or installed from the registry), and spec files. The runner
// CLIs are spawned in it as children.
import { spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { ROOT } from './helpers';

export interface Project { dir: string; remove(): void }

/** `install`: packages installed from the registry first (npm prunes what its package.json does not list: it comes before the rest). */
export function userProject(name: string, links: string[], files: Record<string, string>, install: string[] = []): Project {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `tk-${name}-`));
  if (files['package.json'] !== undefined) fs.writeFileSync(path.join(dir, 'package.json'), files['package.json']);
  if (install.length > 0) npmInstall(dir, install);
  const own = path.join(dir, 'node_modules', 'thread-kill');
  fs.mkdirSync(own, { recursive: true });
  fs.copyFileSync(path.join(ROOT, 'package.json'), path.join(own, 'package.json'));
  fs.cpSync(path.join(ROOT, 'lib'), path.join(own, 'lib'), { recursive: true });
  fs.symlinkSync(path.join(ROOT, 'build'), path.join(own, 'build'));
  for (const pkg of ['node-gyp-build', ...links]) {
    const at = path.join(dir, 'node_modules', pkg);
    fs.mkdirSync(path.dirname(at), { recursive: true });
    fs.symlinkSync(path.join(ROOT, 'node_modules', pkg), at);
  }
  for (const [file, content] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
    fs.writeFileSync(path.join(dir, file), content);
  }
  return { dir, remove: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

/** npm install <specs> into the project from the registry (no lockfile, nothing saved). */
export function npmInstall(dir: string, specs: string[]): void {
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  const r = spawnSync(npm, ['install', '--no-save', '--no-package-lock', '--no-audit', '--no-fund', '--ignore-scripts', ...specs],
    { cwd: dir, encoding: 'utf8', env: { ...process.env, npm_config_nodedir: undefined } });
  if (r.status !== 0) throw new Error(`npm install ${specs.join(' ')} failed (${r.status}):\n${r.stderr}`);
}

export interface RunResult { pid: number; code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string; ms: number }

/** Runs `node args…` in `cwd`; resolves when it exits by itself (a safety net kills it after `limitMs`: the bug under test is a hang). */
export function runNode(args: string[], cwd: string, env: NodeJS.ProcessEnv = {}, limitMs = 120_000): Promise<RunResult> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const p = spawn(process.execPath, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, FORCE_COLOR: '0', NO_COLOR: '1', CI: '1', ...env } });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    p.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    const limit = setTimeout(() => p.kill('SIGKILL'), limitMs);
    p.once('close', (code, signal) => { clearTimeout(limit); resolve({ pid: p.pid ?? -1, code, signal, stdout, stderr, ms: performance.now() - t0 }); });
  });
}

/** Node ≥ major.minor. */
export function nodeAtLeast(major: number, minor: number): boolean {
  const [a, b] = process.versions.node.split('.').map(Number);
  return a > major || (a === major && b >= minor);
}
