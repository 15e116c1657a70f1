// Everything thread-kill needs from the operating system beyond V8, Node,
// libuv, Node-API and the C++ standard library: one small interface, one
// implementation file per platform (native/platform_linux.cc today). The
// other native files include no OS header and make no OS call, so a port
// adds one file here and touches nothing else (docs/DESIGN.md, "Porting";
// scripts/check-portable.sh compiles them for Windows with mingw-w64).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace tk::platform {

// ---- Thread and process identity --------------------------------------

// The calling thread's OS thread id (Linux: gettid()).
int32_t CurrentOsTid();

// When thread `os_tid` of this process started (an opaque, comparable
// value; Linux: field 22 of /proc/self/task/<tid>/stat). With the id, the
// thread's identity: a reused id gets another start time. 0 if unknown.
uint64_t ThreadStartTime(int32_t os_tid);

// ---- Process-wide services --------------------------------------------

// Keeps the shared object containing `address` loaded until the process
// ends (Linux: dladdr + dlopen(RTLD_NOLOAD | RTLD_NODELETE)).
void PinModule(void* address);

// Asks for timer wake-ups as precise as the OS allows, for the calling
// thread (the deadline watchdog; Linux: PR_SET_TIMERSLACK of 1 ns).
void UsePreciseTimers();

// Writes `text` to the process's stderr with no buffering and no lock of
// ours or the C library's (the watchdog, about to end the process).
void WriteStderr(const std::string& text);

// What thread `os_tid` of this process waits for in the kernel (Linux:
// /proc/self/task/<tid>/wchan, e.g. "pipe_read"); empty if unknown.
std::string ThreadWaitChannel(int32_t os_tid);

// ---- The unblock rung: a thread blocked in a system call --------------

// The system call a thread is in, with its first three arguments. False
// when it is not in one (running, or the OS cannot tell).
struct BlockedCall {
  long nr = -1;
  unsigned long args[3] = {0, 0, 0};
};
bool CurrentCall(int32_t os_tid, BlockedCall* out);

// What kind of call that is, for the rung.
bool IsReadCall(long nr);  // a signal makes it fail with EINTR, not retried by libuv
bool IsOpenCall(long nr);  // open()/openat(): a FIFO's open may be satisfied

// The numbers of each kind this build checks (for the tests).
std::vector<long> ReadCallNumbers();
std::vector<long> OpenCallNumbers();

// The signal that interrupts a read (Linux: SIGRTMIN+3), 0 where none.
int UnblockSignal();

// Its handler in this process: 0 default (not installed yet), 1 ours, 2
// someone else's. With `install`, installs ours over the default (no
// SA_RESTART; never uninstalled). Thread-safe.
int UnblockHandlerState(bool install);

// One UnblockSignal() to thread `os_tid` of this process only (tgkill).
bool SignalThread(int32_t os_tid);

// A thread's open() waiting for a FIFO's other end, from its arguments.
struct FifoOpenWait {
  int dirfd = 0;
  int flags = 0;
  std::string path;
};
// Fills `out` if thread `os_tid`, in `call`, waits inside a FIFO's open for
// the other end (Linux: wait channel wait_for_partner); false otherwise.
bool ReadFifoOpenWait(int32_t os_tid, const BlockedCall& call, FifoOpenWait* out);

// Opens the FIFO's other end without waiting, and closes it at once, so
// the open returns. 1 done, 0 not a FIFO waiting (or no longer), -1 error.
// `for_reading` says which open it was.
int SatisfyFifoOpenWait(const FifoOpenWait& wait, bool* for_reading);

// ---- Processes a thread waits for -------------------------------------

// The start time of process `pid` (as ThreadStartTime), 0 if gone.
uint64_t ProcessStartTime(int32_t pid);

// Signals process `pid` (`hard`: SIGKILL, else SIGTERM) only if its start
// time is still `start_time`, with no pid-reuse window where the OS allows
// (Linux: a pidfd). 1 sent, 0 gone or a different process, -1 error.
int SignalProcessChecked(int32_t pid, uint64_t start_time, bool hard);

// The inode of the socket connected to Unix socket `inode`: > 0 found, 0
// none, -1 the OS cannot tell (Linux: sock_diag unavailable).
int64_t UnixSocketPeer(uint64_t inode);

// Every fd of every other process whose link is one of `targets`
// ("pipe:[N]", "socket:[N]"; Linux: /proc/*/fd).
struct FdHolder {
  int pid;
  int fd;
  int target;  // index into targets
};
std::vector<FdHolder> FdHolders(const std::vector<std::string>& targets);

}  // namespace tk::platform
