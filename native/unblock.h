// The "unblock" rung of kill(): a thread-directed real-time signal that makes
// a blocked read-type system call of a thread being killed return EINTR, a
// FIFO open of such a thread let through (its other end opened and closed),
// and identity-checked signals to the processes such a thread waits for.
// The OS side of each is native/platform.h's.
// Rules (docs/DESIGN.md, "The unblock rung"):
//   * a thread is signalled only while its Entry is in `live`, under the
//     registry mutex, with kill_requested set, its start time unchanged since
//     ArmUnblock, and /proc showing it in a read-type syscall;
//   * the handler is installed once, lazily, only over SIG_DFL, and never
//     uninstalled (the shared object is pinned with RTLD_NODELETE).
#pragma once

#include <napi.h>

#include <cstdint>
#include <string>

namespace tk {

enum class UnblockStatus : int32_t {
  kSent = 1,
  kNotLive = 2,          // not registered / reserved only / gone
  kNotKilled = 3,        // no termination requested: refused
  kNotArmed = 4,         // no identity captured (ArmUnblock not called)
  kIdentityChanged = 5,  // start time differs: the OS thread id was reused
  kNotInRead = 6,        // not blocked in a read-type syscall right now
  kHandlerOwned = 7,     // someone else owns the signal's disposition
  kUnsupported = 8,      // not Linux x86-64/arm64
  kFailed = 9,           // tgkill failed
};

enum class OpenWaitStatus : int32_t {
  kSatisfied = 1,        // the FIFO's other end was opened (and closed): open() returns
  kNotLive = 2,
  kNotKilled = 3,
  kNotArmed = 4,
  kIdentityChanged = 5,
  kNotInOpen = 6,        // not in open()/openat() (or no longer waiting in it)
  kNotFifo = 10,         // in open(), but not of a FIFO end that waits
  kUnsupported = 8,
  kFailed = 9,
};

// The signal used (SIGRTMIN + 3), or 0 where unsupported.
int UnblockSignal();

// Any thread, under the registry mutex: records the target's start time
// (field 22 of /proc/self/task/<tid>/stat) as its identity, once. True if
// captured. `test_start_time` > 0 replaces it (tests only: simulates a reused
// OS thread id; a wrong identity can only make SignalBlockedThread refuse).
bool ArmUnblock(int64_t thread_id, uint64_t test_start_time = 0);

// Any thread: one identity-checked signal to a thread being killed.
UnblockStatus SignalBlockedThread(int64_t thread_id);

// 0 default (not installed yet), 1 ours, 2 someone else's.
int UnblockHandlerState();

// Any thread: a thread being killed that waits in open()/openat() of a FIFO
// (for reading: no writer yet; for writing: no reader yet) gets its wait
// satisfied: the FIFO's other end is opened non-blocking and closed at once,
// so the open returns and the pending termination lands. Same checks as
// SignalBlockedThread (kill requested, identity) under the registry mutex;
// the path is read from the thread's own open() arguments.
OpenWaitStatus SatisfyFifoOpen(int64_t thread_id, std::string* path, bool* for_reading);

// The epoll fd of the thread's own event loop, or -1 (tells spawnSync's
// private loop from the thread's own).
int ThreadLoopFd(int64_t thread_id);

// Signals process `pid` (`hard`: SIGKILL, else SIGTERM) only if its start
// time is still `start_time` (through a pidfd when the kernel has them, so
// a reused pid is never hit). 1 sent, 0 gone or a different process, -1 error.
int SignalProcessChecked(int32_t pid, uint64_t start_time, bool hard);

// The JS surface (added to the full export set by addon.cc's Init).
void InitUnblock(Napi::Env env, Napi::Object exports);

}  // namespace tk
