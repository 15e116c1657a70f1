#include "unblock.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <napi.h>
#include <uv.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>

#include "registry.h"

namespace tk {

namespace {

#if defined(__linux__) && (defined(__x86_64__) || defined(__aarch64__))
constexpr bool kSupported = true;
#else
constexpr bool kSupported = false;
#endif

// read, pread64, readv, preadv, preadv2, recvfrom, recvmsg.
#if defined(__x86_64__)
constexpr long kReadSyscalls[] = {0, 17, 19, 295, 327, 45, 47};
#elif defined(__aarch64__)
constexpr long kReadSyscalls[] = {63, 67, 65, 69, 286, 207, 212};
#else
constexpr long kReadSyscalls[] = {-1};
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

bool InReadSyscall(int32_t os_tid) {
  char path[64];
  char buf[256];
  snprintf(path, sizeof(path), "/proc/self/task/%d/syscall", os_tid);
  if (!ReadProcFile(path, buf, sizeof(buf))) return false;
  if (buf[0] < '0' || buf[0] > '9') return false;  // "running" or "-1 ..."
  long nr = strtol(buf, nullptr, 10);
  for (long r : kReadSyscalls)
    if (r == nr) return true;
  return false;
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
  exports.Set("loopFd", Napi::Function::New(env, JsLoopFd));
  exports.Set("signalProcess", Napi::Function::New(env, JsSignalProcess));
}

}  // namespace tk
