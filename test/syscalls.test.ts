// The per-architecture syscall tables (src/kill/syscalls.ts) against the
// kernel's own headers: arm64 uses the generic table (asm-generic/unistd.h,
// shipped by every Linux's kernel headers package), x64 its own
// (asm/unistd_64.h). And the numbers native/platform_linux.cc was built with
// (<sys/syscall.h>) against the table of this process's architecture.
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { ROOT } from './helpers';

const { SYSCALLS_ARM64, SYSCALLS_X64, syscallName, syscallNumber } = require(path.join(ROOT, 'lib', 'kill', 'syscalls.js'));
const native = require(path.join(ROOT, 'lib', 'shared', 'native.js')).native as { unblockSyscalls(): [number[], number[]] };

/** `#define __NR_<name> <n>` (and the generic table's __NR3264_<name>, as the 64-bit name). */
function parseHeader(file: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const m of fs.readFileSync(file, 'utf8').matchAll(/^#define __NR(3264)?_(\w+)\s+(\d+)\s*$/gm)) {
    const name = m[1] && m[2] === 'fstatat' ? 'newfstatat' : m[2];
    out.set(name, Number(m[3]));
  }
  return out;
}

function headerOr(file: string, ctx: Mocha.Context): Map<string, number> {
  if (!fs.existsSync(file)) ctx.skip(); // (linux-libc-dev is where g++ is; the arm64 table is checked on every Linux)
  return parseHeader(file);
}

function assertTable(table: Record<string, number>, header: Map<string, number>): void {
  const wrong = Object.entries(table).filter(([name, nr]) => header.get(name) !== nr).map(([name, nr]) => `${name}: ours ${nr}, kernel ${header.get(name)}`);
  assert.deepStrictEqual(wrong, []);
}

describe('syscall tables, per architecture', () => {
  it('arm64 matches the kernel\'s generic table (asm-generic/unistd.h)', function () {
    const header = headerOr('/usr/include/asm-generic/unistd.h', this);
    assert.ok(header.size > 250, `parsed ${header.size} entries`);
    assertTable(SYSCALLS_ARM64, header);
    // What arm64 lacks, and the numbers that differ most from x64.
    assert.strictEqual(header.has('open'), false);
    assert.strictEqual(header.has('epoll_wait'), false);
    assert.deepStrictEqual([SYSCALLS_ARM64.read, SYSCALLS_ARM64.openat, SYSCALLS_ARM64.epoll_pwait], [63, 56, 22]);
  });

  it('x64 matches asm/unistd_64.h', function () {
    const candidates = ['/usr/include/x86_64-linux-gnu/asm/unistd_64.h', '/usr/include/asm/unistd_64.h', '/usr/x86_64-linux-gnu/include/asm/unistd_64.h'];
    const file = candidates.find((f) => fs.existsSync(f)) ?? candidates[0];
    assertTable(SYSCALLS_X64, headerOr(file, this));
  });

  it('names and numbers are looked up for the given architecture', () => {
    assert.strictEqual(syscallName(0, 'x64'), 'read');
    assert.strictEqual(syscallName(63, 'arm64'), 'read');
    assert.strictEqual(syscallName(0, 'arm64'), 'syscall_0');
    assert.strictEqual(syscallNumber('open', 'arm64'), undefined);
    assert.strictEqual(syscallName(12345, 'x64'), 'syscall_12345');
    assert.strictEqual(syscallName(0, 'mips'), 'syscall_0');
  });

  it('the native rung checks the numbers of this architecture', function () {
    if (process.platform !== 'linux' || !['x64', 'arm64'].includes(process.arch)) this.skip();
    const [reads, opens] = native.unblockSyscalls();
    const byName = (names: string[]): number[] => names.map((n) => syscallNumber(n)).filter((n): n is number => n !== undefined);
    assert.deepStrictEqual(reads, byName(['read', 'pread64', 'readv', 'preadv', 'preadv2', 'recvfrom', 'recvmsg']));
    assert.deepStrictEqual(opens, byName(['open', 'openat']));
  });
});
