// Where a stuck test was stopped, as the runner prints stacks. The frames of
// a RegionTimeoutError were captured natively, at positions in the code V8
// ran; a runner that transforms test files (Jest with babel-jest, Vitest)
// maps its errors' stacks back to the sources in Error.prepareStackTrace.
// Given the captured frames as call sites, that same formatter maps ours.

import { AssertionError } from 'assert';
import { findSourceMap } from 'module';
import { fileURLToPath } from 'url';

const FRAME = /^\s*at (?:(.*?) \()?(.*?):(\d+):(\d+)\)?$/;

/** A CallSite built from one formatted frame: what stack formatters read. */
class CapturedSite {
  constructor(private readonly fn: string | null, private readonly file: string, private readonly line: number, private readonly column: number) {}
  getThis(): undefined { return undefined; }
  getTypeName(): null { return null; }
  getFunction(): undefined { return undefined; }
  getFunctionName(): string | null { return this.fn; }
  getMethodName(): null { return null; }
  getFileName(): string { return this.file; }
  getLineNumber(): number { return this.line; }
  getColumnNumber(): number { return this.column; }
  getEnclosingLineNumber(): null { return null; }
  getEnclosingColumnNumber(): null { return null; }
  getEvalOrigin(): undefined { return undefined; }
  getScriptNameOrSourceURL(): string { return this.file; }
  getScriptHash(): string { return ''; }
  getPosition(): number { return 0; }
  getPromiseIndex(): null { return null; }
  isToplevel(): boolean { return true; } // the name is printed as captured
  isEval(): boolean { return false; }
  isNative(): boolean { return false; }
  isConstructor(): boolean { return false; }
  isAsync(): boolean { return false; }
  isPromiseAll(): boolean { return false; }
  toString(): string { return this.fn ? `${this.fn} (${this.file}:${this.line}:${this.column})` : `${this.file}:${this.line}:${this.column}`; }
}

/** One frame through Node's source-map cache (files compiled with a source map while source maps are enabled), else as it is. */
function nodeSourceMapped(line: string): string {
  const m = FRAME.exec(line);
  if (m === null) return line;
  try {
    const map = findSourceMap(m[2].startsWith('file://') ? m[2] : m[2]);
    const entry = map?.findEntry(Number(m[3]) - 1, Number(m[4]) - 1) as { originalSource?: string; originalLine?: number; originalColumn?: number } | undefined;
    if (entry?.originalSource === undefined || entry.originalLine === undefined || entry.originalColumn === undefined) return line;
    const file = entry.originalSource.startsWith('file://') ? fileURLToPath(entry.originalSource) : entry.originalSource;
    const where = `${file}:${entry.originalLine + 1}:${entry.originalColumn + 1}`;
    return m[1] ? `    at ${m[1]} (${where})` : `    at ${where}`;
  } catch {
    return line;
  }
}

/**
 * Node's main-context Error. Node formats the stack of an error made in a vm
 * context whose own Error has no prepareStackTrace with the main context's
 * (MainContextError in node's lib/internal/errors.js): Vitest's vmThreads
 * runs the test files, and loads this module, in such a context, and its
 * source-map formatter is on the worker's main-context Error. Node's
 * builtins are made in the main context whichever context requires them:
 * AssertionError extends that Error.
 */
const mainContextError = ((): ErrorConstructor => {
  const E = Object.getPrototypeOf(AssertionError) as unknown;
  return typeof E === 'function' ? E as ErrorConstructor : Error;
})();

type Prepare = (err: unknown, sites: unknown[]) => unknown;

/**
 * `${name}: ${message}` and the frames of `capturedStack` (its first line,
 * the error's own, dropped), through the Error.prepareStackTrace that Node
 * would use for an error of `realmError`'s realm — that realm's, else the
 * main context's — when one is installed (source maps), else as captured.
 */
export function stackOf(name: string, message: string, capturedStack: string, realmError: ErrorConstructor = Error): string {
  const lines = String(capturedStack).split('\n').slice(1);
  const plain = `${name}: ${message}\n${lines.join('\n')}`;
  const own = (realmError as { prepareStackTrace?: Prepare }).prepareStackTrace;
  const prepare = typeof own === 'function' ? own : (mainContextError as { prepareStackTrace?: Prepare }).prepareStackTrace;
  if (typeof prepare !== 'function') return `${name}: ${message}\n${lines.map(nodeSourceMapped).join('\n')}`;
  const sites: CapturedSite[] = [];
  for (const line of lines) {
    const m = FRAME.exec(line);
    if (m === null) return plain; // a frame we cannot read: keep them all as captured
    sites.push(new CapturedSite(m[1] ?? null, m[2], Number(m[3]), Number(m[4])));
  }
  try {
    const out = prepare({ name, message }, sites);
    return typeof out === 'string' ? out : plain;
  } catch {
    return plain;
  }
}

const realmErrors = new WeakMap<Function, ErrorConstructor>();

/** The Error of the realm `fn` was made in (a test file's vm context: Vitest's vmThreads), whose formatter maps that realm's stacks. */
export function errorOfRealm(fn: Function): ErrorConstructor {
  const F = fn.constructor as FunctionConstructor | undefined;
  if (typeof F !== 'function') return Error;
  let E = realmErrors.get(F);
  if (E === undefined) {
    try {
      E = (F === Function ? Error : (new F('return Error')() as ErrorConstructor)) ?? Error;
    } catch {
      E = Error;
    }
    realmErrors.set(F, E);
  }
  return E;
}
