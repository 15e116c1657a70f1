// System call numbers by architecture, for naming the call a thread is
// blocked in (/proc/self/task/<tid>/syscall shows only the number). x64 has
// its own table; arm64 uses the kernel's generic one (asm-generic/unistd.h),
// where the same call has another number (read: 0 on x64, 63 on arm64) and
// some calls do not exist (open, epoll_wait: arm64 has only openat,
// epoll_pwait). test/syscalls.test.ts checks both tables against the kernel
// headers; native/platform_linux.cc takes its numbers from <sys/syscall.h>.

export type SyscallTable = Readonly<Record<string, number>>;

export const SYSCALLS_X64: SyscallTable = {
  read: 0, write: 1, open: 2, close: 3, stat: 4, fstat: 5, lstat: 6, poll: 7, ioctl: 16, pread64: 17, pwrite64: 18,
  readv: 19, writev: 20, select: 23, sched_yield: 24, pause: 34, nanosleep: 35, connect: 42, accept: 43, sendto: 44,
  recvfrom: 45, sendmsg: 46, recvmsg: 47, wait4: 61, fcntl: 72, flock: 73, fsync: 74, fdatasync: 75, futex: 202,
  clock_nanosleep: 230, epoll_wait: 232, waitid: 247, openat: 257, newfstatat: 262, pselect6: 270, ppoll: 271,
  epoll_pwait: 281, accept4: 288, preadv: 295, pwritev: 296, preadv2: 327, pwritev2: 328, statx: 332,
  io_uring_enter: 426, openat2: 437, epoll_pwait2: 441,
};

export const SYSCALLS_ARM64: SyscallTable = {
  epoll_pwait: 22, fcntl: 25, ioctl: 29, flock: 32, openat: 56, close: 57, read: 63, write: 64, readv: 65, writev: 66,
  pread64: 67, pwrite64: 68, preadv: 69, pwritev: 70, pselect6: 72, ppoll: 73, newfstatat: 79, fstat: 80, fsync: 82,
  fdatasync: 83, waitid: 95, futex: 98, nanosleep: 101, clock_nanosleep: 115, sched_yield: 124, accept: 202,
  connect: 203, sendto: 206, recvfrom: 207, sendmsg: 211, recvmsg: 212, accept4: 242, wait4: 260, preadv2: 286,
  pwritev2: 287, statx: 291, io_uring_enter: 426, openat2: 437, epoll_pwait2: 441,
};

const BY_ARCH: Readonly<Record<string, SyscallTable>> = { x64: SYSCALLS_X64, arm64: SYSCALLS_ARM64 };

const NAMES = new Map<string, Map<number, string>>();
for (const [arch, table] of Object.entries(BY_ARCH)) NAMES.set(arch, new Map(Object.entries(table).map(([n, nr]) => [nr, n])));

/** The name of system call `nr` on `arch` (default: this process's), or `syscall_<nr>` when not in the table. */
export function syscallName(nr: number, arch: string = process.arch): string {
  return NAMES.get(arch)?.get(nr) ?? `syscall_${nr}`;
}

/** The number of system call `name` on `arch`, or undefined (not in the table, or no such call there). */
export function syscallNumber(name: string, arch: string = process.arch): number | undefined {
  return BY_ARCH[arch]?.[name];
}
