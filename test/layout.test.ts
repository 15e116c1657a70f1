// The shape of src/: one folder per mechanism, stacked in floors, and
// nothing imports upward. docs/DESIGN.md's "Pieces" table is the plan; this
// test keeps the code and the table the same.
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';

const ROOT = path.resolve(__dirname, '..', '..');
const SRC = path.join(ROOT, 'src');

/** The floor of a src/ file: its folder's, or 5 for the package's own top level. */
const FLOORS: Record<string, number> = { shared: 0, registry: 1, stop: 2, region: 3, kill: 4, tools: 6 };
const TOP = 5;

function floorOf(file: string): number {
  const first = path.relative(SRC, file).split(path.sep)[0];
  return FLOORS[first] ?? TOP;
}

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? sourceFiles(p) : /\.c?ts$/.test(e.name) ? [p] : [];
  });
}

/** Every relative module a file imports, requires or resolves. */
function relativeImports(file: string): string[] {
  const text = fs.readFileSync(file, 'utf8');
  const specs: string[] = [];
  const pattern = /(?:\bfrom\s+|\bimport\s+|\brequire\(|\brequire\.resolve\(|\bimport\()['"](\.{1,2}\/[^'"]*)['"]/g;
  for (const m of text.matchAll(pattern)) specs.push(m[1]);
  return specs;
}

describe('src/ layout', () => {
  const files = sourceFiles(SRC);

  it('has no file at the top of a folder other than the package entry points', () => {
    for (const f of files) {
      const rel = path.relative(SRC, f);
      assert.ok(rel.includes(path.sep) || TOP === floorOf(f), rel);
    }
    assert.ok(files.length > 20, `found only ${files.length} files`);
  });

  it('imports only from the same floor or the floors below', () => {
    const upward: string[] = [];
    for (const f of files) {
      for (const spec of relativeImports(f)) {
        const target = path.resolve(path.dirname(f), spec);
        if (!fs.existsSync(`${target}.ts`) && !fs.existsSync(`${target}.cts`) && !fs.existsSync(path.join(target, 'index.ts'))) {
          upward.push(`${path.relative(SRC, f)} imports ${spec}, which does not exist`);
        } else if (floorOf(target) > floorOf(f)) {
          upward.push(`${path.relative(SRC, f)} (floor ${floorOf(f)}) imports ${spec} (floor ${floorOf(target)})`);
        }
      }
    }
    assert.deepStrictEqual(upward, []);
  });

  it('is the layout docs/DESIGN.md lists, file by file', () => {
    const design = fs.readFileSync(path.join(ROOT, 'docs', 'DESIGN.md'), 'utf8');
    const table = design.slice(design.indexOf('## Pieces'), design.indexOf('## Thread states'));
    // A row names files by path; later names in a row are siblings of the first ("`src/a/x.ts`, `y.ts`"),
    // and a name ending in / covers its whole folder.
    const listed = new Set<string>();
    const folders: string[] = [];
    for (const row of table.split('\n').filter((l) => l.startsWith('|'))) {
      let dir = '';
      for (const [, name] of row.matchAll(/`(src\/[^`]*|[\w.-]+\.c?ts)`/g)) {
        if (name.startsWith('src/')) dir = path.posix.dirname(name.slice(4));
        const rel = name.startsWith('src/') ? name.slice(4) : path.posix.join(dir, name);
        if (rel.endsWith('/')) folders.push(rel); else listed.add(path.posix.normalize(rel));
      }
    }
    const missing = files.map((f) => path.relative(SRC, f).split(path.sep).join('/'))
      .filter((rel) => !listed.has(rel) && !folders.some((d) => rel.startsWith(d)));
    assert.deepStrictEqual(missing, []);
    const stale = [...listed].filter((rel) => !fs.existsSync(path.join(SRC, rel)));
    assert.deepStrictEqual(stale, [], 'the table lists files that do not exist');
  });
});
