// The runners' guards are part of the runner's machinery for the user: their
// frames should be filtered out of a failing test's stack like the runner's
// own. Jest drops frames under a "<…jest…>/build/" directory, Vitest frames
// under "/vitest/dist/": the guard's factory is compiled again (from its own
// source, self-contained) under such a file name. No behaviour changes.
import * as vm from 'vm';

export function compiledAs<F extends (...args: never[]) => unknown>(factory: F, filename: string): F {
  return vm.runInThisContext(`(${factory.toString()})`, { filename }) as F;
}
