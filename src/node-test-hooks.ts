// Module hooks that hand every `import … from 'node:test'` and
// `require('node:test')` outside thread-kill our facade (./node-test-facade.ts),
// so `node --test --import thread-kill/node-test` protects test files unchanged.
//
//   module.registerHooks (Node 22.15+, 23.5+): synchronous, in this thread,
//     and it sees require() as well as import;
//   module.register (Node 20.6+, older 22): the same resolve/load functions
//     run in Node's hooks thread and see import only, so require() is caught
//     in Module._load (builtins never reach require's resolution).
// Without either it throws: loaded for nothing, it would protect nothing.
//
// This file runs in Node's hooks thread too (module.register): it must not
// load the addon or anything that does.
import * as Module from 'module';
import * as path from 'path';
import { pathToFileURL } from 'url';

const OWN_DIR = __dirname + path.sep;
const OWN_DIR_URL = pathToFileURL(OWN_DIR).href;
const FACADE = path.join(__dirname, 'node-test-facade.js');
const FACADE_URL = pathToFileURL(FACADE).href;
/** The ES module form of the facade: made by load() below. */
const FACADE_ESM_URL = `${FACADE_URL}?esm`;

type Resolved = { url: string; format?: string | null; shortCircuit?: boolean };
type ResolveContext = { conditions?: readonly string[]; parentURL?: string };
type Loaded = { format: string; source?: string | Buffer; shortCircuit?: boolean };

const fromUs = (parentURL: string | undefined): boolean => parentURL !== undefined && parentURL.startsWith(OWN_DIR_URL);

export function resolve(specifier: string, context: ResolveContext, nextResolve: (s: string, c: ResolveContext) => unknown): unknown {
  if (specifier === 'node:test' && !fromUs(context.parentURL)) {
    const required = context.conditions?.includes('require') === true;
    return { url: required ? FACADE_URL : FACADE_ESM_URL, format: required ? 'commonjs' : 'module', shortCircuit: true } satisfies Resolved;
  }
  return nextResolve(specifier, context);
}

/** An ES module re-exporting the facade: default and every name node:test has here. */
function facadeModuleSource(): string {
  const names = Object.keys(require('node:test') as object).filter((n) => /^[A-Za-z_$][\w$]*$/.test(n) && n !== 'default');
  return `import facade from ${JSON.stringify(FACADE_URL)};\nexport default facade;\n`
    + `export const { ${names.join(', ')} } = facade;\n`;
}

export function load(url: string, context: unknown, nextLoad: (u: string, c: unknown) => unknown): unknown {
  if (url === FACADE_ESM_URL) return { format: 'module', source: facadeModuleSource(), shortCircuit: true } satisfies Loaded;
  return nextLoad(url, context);
}

const KEY = Symbol.for('thread-kill.node-test-hooks');

/** Installs the hooks once per thread; throws when this Node has no way to. */
export function installNodeTestHooks(): void {
  const g = globalThis as Record<symbol, unknown>;
  if (g[KEY]) return;
  const m = Module as unknown as {
    registerHooks?: (hooks: { resolve: typeof resolve; load: typeof load }) => unknown;
    register?: (specifier: string) => void;
    _load: (request: string, parent: { filename?: string } | undefined, isMain: boolean) => unknown;
  };
  if (typeof m.registerHooks === 'function') {
    m.registerHooks({ resolve, load });
  } else if (typeof m.register === 'function') {
    m.register(pathToFileURL(__filename).href);
    const original = m._load;
    m._load = function loadNodeTest(this: unknown, request: string, parent, isMain) {
      if (request === 'node:test' && !(parent?.filename ?? '').startsWith(OWN_DIR)) return original.call(this, FACADE, parent, isMain);
      return original.call(this, request, parent, isMain);
    };
  } else {
    throw new Error(`thread-kill/node-test: Node.js ${process.version} has neither module.registerHooks() nor module.register(), `
      + "so 'node:test' cannot be replaced and no test would be protected. Import test() from 'thread-kill/node-test' in each file instead.");
  }
  g[KEY] = true;
}
