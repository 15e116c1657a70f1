#include "unblock.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>
#include <napi.h>
#include <uv.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <algorithm>
#include <mutex>
#include <string>

#include "registry.h"

namespace tk {

namespace {

#if defined(__linux__) && (defined(__x86_64__) || defined(__aarch64__))
constexpr bool kSupported = true;
#else
constexpr bool kSupported = false;
#endif

// The numbers come from the C library's <sys/syscall.h> of the target
// architecture, so a cross build gets that architecture's (x64 and arm64
// differ: read is 0 on x64, 63 on arm64). test/syscalls.test.ts checks them
// against the kernel headers and src/kill/syscalls.ts.
#if defined(__linux__) && (defined(__x86_64__) || defined(__aarch64__))
// read, pread64, readv, preadv, preadv2, recvfrom, recvmsg.
constexpr long kReadSyscalls[] = {SYS_read, SYS_pread64, SYS_readv, SYS_preadv, SYS_preadv2, SYS_recvfrom, SYS_recvmsg};
// open (x64 only: arm64 has no open), openat.
#if defined(SYS_open)
constexpr long kOpenSyscalls[] = {SYS_open, SYS_openat};
#else
constexpr long kOpenSyscalls[] = {SYS_openat};
#endif
#else
constexpr long kReadSyscalls[] = {-1};
constexpr long kOpenSyscalls[] = {-1};
#endif

// Does nothing: its only job is to exist without SA_RESTART, so that a
// blocked read() returns EINTR instead of being restarted by the kernel.
void OnUnblockSignal(int) {}

// Reads a small /proc file into buf (NUL-terminated). Plain syscalls: this
// runs under the registry mutex, and a procfs read takes none of our locks.
bool ReadProcFile(const char* path, char* buf, size_t size) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  size_t used = 0;
  while (used + 1 < size) {
    ssize_t n = read(fd, buf + used, size - 1 - used);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    used += static_cast<size_t>(n);
  }
  close(fd);
  buf[used] = '\0';
  return used > 0;
}

// Field 22 (starttime, clock ticks after boot) of a /proc/.../stat file.
uint64_t StartTimeOf(const char* stat_path) {
  char buf[1024];
  if (!ReadProcFile(stat_path, buf, sizeof(buf))) return 0;
  // "pid (comm) S ppid ...": comm may contain spaces and parentheses.
  char* p = strrchr(buf, ')');
  if (p == nullptr) return 0;
  p += 2;  // now at field 3
  for (int field = 3; field < 22; field++) {
    p = strchr(p, ' ');
    if (p == nullptr) return 0;
    p++;
  }
  return strtoull(p, nullptr, 10);
}

uint64_t ThreadStartTime(int32_t os_tid) {
  char path[64];
  snprintf(path, sizeof(path), "/proc/self/task/%d/stat", os_tid);
  return StartTimeOf(path);
}

// The thread's current system call and its first three arguments, from
// /proc/self/task/<tid>/syscall ("nr a0 a1 a2 ..."; "running" or "-1 ..."
// when not in one). False when not in a system call.
bool CurrentSyscall(int32_t os_tid, long* nr, unsigned long args[3]) {
  char path[64];
  char buf[256];
  snprintf(path, sizeof(path), "/proc/self/task/%d/syscall", os_tid);
  if (!ReadProcFile(path, buf, sizeof(buf))) return false;
  if (buf[0] < '0' || buf[0] > '9') return false;
  char* p = buf;
  *nr = strtol(p, &p, 10);
  for (int i = 0; i < 3; i++) args[i] = strtoul(p, &p, 16);
  return true;
}

bool InReadSyscall(int32_t os_tid) {
  long nr;
  unsigned long args[3];
  if (!CurrentSyscall(os_tid, &nr, args)) return false;
  for (long r : kReadSyscalls)
    if (r == nr) return true;
  return false;
}

// Copies a NUL-terminated string at `addr` of this process's own memory.
// process_vm_readv reports an unmapped page as an error (a thread that
// returned meanwhile may have freed the buffer) where a plain read would
// fault. Page by page: a transfer stops at the first bad page.
bool ReadOwnString(unsigned long addr, char* out, size_t size) {
  size_t used = 0;
  const unsigned long page = static_cast<unsigned long>(sysconf(_SC_PAGESIZE));
  while (used + 1 < size) {
    unsigned long at = addr + used;
    size_t chunk = std::min<size_t>(page - (at % page), size - 1 - used);
    struct iovec local = {out + used, chunk};
    struct iovec remote = {reinterpret_cast<void*>(at), chunk};
    ssize_t n = process_vm_readv(getpid(), &local, 1, &remote, 1, 0);
    if (n <= 0) return false;
    if (memchr(out + used, '\0', static_cast<size_t>(n)) != nullptr) return true;
    used += static_cast<size_t>(n);
  }
  return false;  // longer than PATH_MAX: not a path open() accepted
}

std::mutex g_handler_mutex;  // taken after Registry::mutex, never before it
bool g_installed = false;

// 1 ours (installed now or before), 0 default (query only), 2 other.
int HandlerStateLocked(bool install) {
  int sig = UnblockSignal();
  struct sigaction cur;
  if (sigaction(sig, nullptr, &cur) != 0) return 2;
  bool ours = !(cur.sa_flags & SA_SIGINFO) && cur.sa_handler == OnUnblockSignal;
  if (ours) return 1;
  if (g_installed) return 2;  // ours was replaced by someone: theirs now
  if ((cur.sa_flags & SA_SIGINFO) || cur.sa_handler != SIG_DFL) return 2;
  if (!install) return 0;
  struct sigaction sa;
  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = OnUnblockSignal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;  // no SA_RESTART: that is the point
  if (sigaction(sig, &sa, nullptr) != 0) return 2;
  g_installed = true;  // never uninstalled: a late signal must find it
  return 1;
}

}  // namespace

int UnblockSignal() { return kSupported ? SIGRTMIN + 3 : 0; }

int UnblockHandlerState() {
  if (!kSupported) return 2;
  std::lock_guard<std::mutex> lock(g_handler_mutex);
  return HandlerStateLocked(false);
}

bool ArmUnblock(int64_t thread_id, uint64_t test_start_time) {
  if (!kSupported) return false;
  Registry& reg = Registry::Get();
  RegistryLock lock;
  Entry* e = reg.FindLocked(thread_id);
  if (e == nullptr || e->env == nullptr || e->os_tid <= 0) return false;
  // The entry is in `live`, so its thread has not run its cleanup hook and
  // is alive: this start time is the thread's own.
  if (test_start_time > 0) e->start_time = test_start_time;
  if (e->start_time == 0) e->start_time = ThreadStartTime(e->os_tid);
  return e->start_time != 0;
}

UnblockStatus SignalBlockedThread(int64_t thread_id) {
  if (!kSupported) return UnblockStatus::kUnsupported;
  Registry& reg = Registry::Get();
  RegistryLock lock;
  Entry* e = reg.FindLocked(thread_id);
  if (e == nullptr || e->env == nullptr || e->os_tid <= 0) return UnblockStatus::kNotLive;
  // Never before termination: without a pending termination the EINTR
  // would surface in user code as an error.
  if (!e->kill_requested.load()) return UnblockStatus::kNotKilled;
  if (e->start_time == 0) return UnblockStatus::kNotArmed;
  if (ThreadStartTime(e->os_tid) != e->start_time) return UnblockStatus::kIdentityChanged;
  if (!InReadSyscall(e->os_tid)) return UnblockStatus::kNotInRead;
  {
    std::lock_guard<std::mutex> hl(g_handler_mutex);
    if (HandlerStateLocked(true) != 1) return UnblockStatus::kHandlerOwned;
  }
  // tgkill: exactly this thread of this process (kill() would pick any).
  if (syscall(SYS_tgkill, getpid(), e->os_tid, UnblockSignal()) != 0) return UnblockStatus::kFailed;
  return UnblockStatus::kSent;
}

OpenWaitStatus SatisfyFifoOpen(int64_t thread_id, std::string* path_out, bool* for_reading) {
  if (!kSupported) return OpenWaitStatus::kUnsupported;
  int dirfd = AT_FDCWD;
  int flags = 0;
  char path[PATH_MAX];
  {
    Registry& reg = Registry::Get();
    RegistryLock lock;
    Entry* e = reg.FindLocked(thread_id);
    if (e == nullptr || e->env == nullptr || e->os_tid <= 0) return OpenWaitStatus::kNotLive;
    if (!e->kill_requested.load()) return OpenWaitStatus::kNotKilled;
    if (e->start_time == 0) return OpenWaitStatus::kNotArmed;
    if (ThreadStartTime(e->os_tid) != e->start_time) return OpenWaitStatus::kIdentityChanged;
    long nr;
    unsigned long a[3];
    if (!CurrentSyscall(e->os_tid, &nr, a)) return OpenWaitStatus::kNotInOpen;
    unsigned long path_addr;
#if defined(SYS_open)
    if (nr == SYS_open) {
      path_addr = a[0];
      flags = static_cast<int>(a[1]);
    } else
#endif
    if (nr == SYS_openat) {
      dirfd = static_cast<int>(a[0]);
      path_addr = a[1];
      flags = static_cast<int>(a[2]);
    } else {
      return OpenWaitStatus::kNotInOpen;
    }
    // Only a FIFO's wait for its other end: an open stuck elsewhere (a hung
    // network mount) would hang our own lookup of the same path too.
    char wchan_path[64];
    char wchan[64];
    snprintf(wchan_path, sizeof(wchan_path), "/proc/self/task/%d/wchan", e->os_tid);
    if (!ReadProcFile(wchan_path, wchan, sizeof(wchan)) || strcmp(wchan, "wait_for_partner") != 0) return OpenWaitStatus::kNotFifo;
    if (!ReadOwnString(path_addr, path, sizeof(path))) return OpenWaitStatus::kNotFifo;
  }
  // Outside the registry mutex: opening touches no entry, and the thread
  // resolved this very path an instant ago (it is waiting inside the FIFO's
  // open, past the lookup). If it left open() meanwhile, the worst case is
  // one more brief open/close of a FIFO's other end (see DESIGN.md).
  int acc = flags & O_ACCMODE;
  if (acc == O_RDWR) return OpenWaitStatus::kNotFifo;  // never waits
  *for_reading = acc == O_RDONLY;
  *path_out = path;
  // O_PATH opens no FIFO end and never waits; fstat proves it is a FIFO
  // before anything is opened for real (a device could act on open).
  int opath = openat(dirfd, path, O_PATH | O_CLOEXEC | (flags & O_NOFOLLOW));
  if (opath < 0) return OpenWaitStatus::kNotFifo;
  struct stat st;
  OpenWaitStatus out = OpenWaitStatus::kNotFifo;
  if (fstat(opath, &st) == 0 && S_ISFIFO(st.st_mode)) {
    char self[64];
    snprintf(self, sizeof(self), "/proc/self/fd/%d", opath);
    // The other end, non-blocking: a writer for a reader's open, a reader for
    // a writer's. Closed at once; nothing is read or written.
    int other = open(self, (*for_reading ? O_WRONLY : O_RDONLY) | O_NONBLOCK | O_CLOEXEC);
    if (other >= 0) {
      close(other);
      out = OpenWaitStatus::kSatisfied;
    } else {
      out = errno == ENXIO ? OpenWaitStatus::kNotInOpen : OpenWaitStatus::kFailed;  // ENXIO: no reader any more
    }
  }
  close(opath);
  return out;
}

int ThreadLoopFd(int64_t thread_id) {
  Registry& reg = Registry::Get();
  RegistryLock lock;
  Entry* e = reg.FindLocked(thread_id);
  if (e == nullptr || e->inbox_async == nullptr || e->inbox_async->loop == nullptr) return -1;
  // backend_fd is set once by uv_loop_init; reading it is a plain int load.
  return uv_backend_fd(e->inbox_async->loop);
}

int SignalProcessChecked(int32_t pid, uint64_t start_time, int sig) {
  if (!kSupported || pid <= 1 || pid == getpid() || start_time == 0) return -1;
  char path[64];
  snprintf(path, sizeof(path), "/proc/%d/stat", pid);
#if defined(SYS_pidfd_open) && defined(SYS_pidfd_send_signal)
  // The pidfd pins this pid to one process; check that it is still the one
  // we listed, then signal through the pidfd: no reuse window.
  int pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
  if (pidfd >= 0) {
    int out = 0;
    if (StartTimeOf(path) == start_time) {
      out = syscall(SYS_pidfd_send_signal, pidfd, sig, nullptr, 0) == 0 ? 1 : (errno == ESRCH ? 0 : -1);
    }
    close(pidfd);
    return out;
  }
  if (errno == ESRCH) return 0;
#endif
  // No pidfds (Linux < 5.3): a microseconds-wide reuse window remains.
  if (StartTimeOf(path) != start_time) return 0;
  if (kill(pid, sig) == 0) return 1;
  return errno == ESRCH ? 0 : -1;
}

namespace {

double NumArg(const Napi::CallbackInfo& info, size_t i) {
  if (info.Length() <= i || !info[i].IsNumber()) return -1;
  double d = info[i].As<Napi::Number>().DoubleValue();
  return d >= 0 && d <= 9007199254740991.0 ? d : -1;
}

Napi::Value JsArm(const Napi::CallbackInfo& info) {
  double tid = NumArg(info, 0);
  double test_start = NumArg(info, 1);
  return Napi::Boolean::New(info.Env(), tid >= 0 && ArmUnblock(static_cast<int64_t>(tid),
                                                               test_start > 0 ? static_cast<uint64_t>(test_start) : 0));
}

Napi::Value JsSignal(const Napi::CallbackInfo& info) {
  double tid = NumArg(info, 0);
  UnblockStatus s = tid < 0 ? UnblockStatus::kNotLive : SignalBlockedThread(static_cast<int64_t>(tid));
  return Napi::Number::New(info.Env(), static_cast<int32_t>(s));
}

Napi::Value JsInfo(const Napi::CallbackInfo& info) {
  Napi::Array out = Napi::Array::New(info.Env(), 2);
  out.Set(0u, Napi::Number::New(info.Env(), UnblockSignal()));
  out.Set(1u, Napi::Number::New(info.Env(), UnblockHandlerState()));
  return out;
}

Napi::Value JsOpen(const Napi::CallbackInfo& info) {
  double tid = NumArg(info, 0);
  std::string path;
  bool for_reading = false;
  OpenWaitStatus s = tid < 0 ? OpenWaitStatus::kNotLive : SatisfyFifoOpen(static_cast<int64_t>(tid), &path, &for_reading);
  Napi::Array out = Napi::Array::New(info.Env(), 3);
  out.Set(0u, Napi::Number::New(info.Env(), static_cast<int32_t>(s)));
  out.Set(1u, Napi::String::New(info.Env(), path));
  out.Set(2u, Napi::Boolean::New(info.Env(), for_reading));
  return out;
}

// The syscall numbers this build uses, for the tests: [read-type, open].
Napi::Value JsSyscalls(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Array out = Napi::Array::New(env, 2);
  Napi::Array reads = Napi::Array::New(env);
  Napi::Array opens = Napi::Array::New(env);
  for (long r : kReadSyscalls) reads.Set(reads.Length(), Napi::Number::New(env, static_cast<double>(r)));
  for (long r : kOpenSyscalls) opens.Set(opens.Length(), Napi::Number::New(env, static_cast<double>(r)));
  out.Set(0u, reads);
  out.Set(1u, opens);
  return out;
}

Napi::Value JsLoopFd(const Napi::CallbackInfo& info) {
  double tid = NumArg(info, 0);
  return Napi::Number::New(info.Env(), tid < 0 ? -1 : ThreadLoopFd(static_cast<int64_t>(tid)));
}

Napi::Value JsSignalProcess(const Napi::CallbackInfo& info) {
  double pid = NumArg(info, 0);
  double start = NumArg(info, 1);
  double sig = NumArg(info, 2);
  if (pid < 2 || pid > 0x7fffffff || start <= 0 || (sig != SIGTERM && sig != SIGKILL))
    return Napi::Number::New(info.Env(), -1);
  return Napi::Number::New(info.Env(), SignalProcessChecked(static_cast<int32_t>(pid),
                                                            static_cast<uint64_t>(start),
                                                            static_cast<int>(sig)));
}

}  // namespace

void InitUnblock(Napi::Env env, Napi::Object exports) {
  exports.Set("unblockArm", Napi::Function::New(env, JsArm));
  exports.Set("unblockSignal", Napi::Function::New(env, JsSignal));
  exports.Set("unblockInfo", Napi::Function::New(env, JsInfo));
  exports.Set("unblockOpen", Napi::Function::New(env, JsOpen));
  exports.Set("unblockSyscalls", Napi::Function::New(env, JsSyscalls));
  exports.Set("loopFd", Napi::Function::New(env, JsLoopFd));
  exports.Set("signalProcess", Napi::Function::New(env, JsSignalProcess));
}

}  // namespace tk
