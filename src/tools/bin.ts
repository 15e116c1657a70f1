#!/usr/bin/env node
// The `thread-kill` command. `thread-kill build` compiles the addon from
// source for this Node (where no prebuild matches: the package has no
// install script) and must run without the addon, so it is dispatched here,
// before anything loads it; every other command is ./cli.ts.
import * as path from 'path';

if (process.argv[2] === 'build') {
  const extra = process.argv.slice(3);
  if (extra.some((a) => a !== '--debug')) {
    process.stderr.write(`usage: thread-kill build [--debug]\n  compiles the addon for this Node (${process.version}) into build/Release (build/Debug with --debug)\n`);
    process.exitCode = 2;
  } else {
    if (extra.includes('--debug')) process.env.THREAD_KILL_DEBUG_BUILD = '1';
    process.argv.splice(2, process.argv.length - 2, '--force');
    require(path.join(__dirname, '..', '..', 'scripts', 'install.js'));
  }
} else {
  require('./cli');
}
