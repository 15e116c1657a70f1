// The Linux implementation of native/platform.h. Everything here is a
// plain system call or a /proc read: safe under the registry mutex (it
// takes none of our locks; the handler mutex is taken after the registry
// mutex, never before it).
#include "platform.h"

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>

namespace tk::platform {

namespace {

#if defined(__x86_64__) || defined(__aarch64__)
constexpr bool kSupported = true;
// The numbers come from the C library's <sys/syscall.h> of the target
// architecture, so a cross build gets that architecture's (x64 and arm64
// differ: read is 0 on x64, 63 on arm64). test/syscalls.test.ts checks them
// against the kernel headers and src/kill/syscalls.ts.
// read, pread64, readv, preadv, preadv2, recvfrom, recvmsg.
constexpr long kReadSyscalls[] = {SYS_read, SYS_pread64, SYS_readv, SYS_preadv, SYS_preadv2, SYS_recvfrom, SYS_recvmsg};
// open (x64 only: arm64 has no open), openat.
#if defined(SYS_open)
constexpr long kOpenSyscalls[] = {SYS_open, SYS_openat};
#else
constexpr long kOpenSyscalls[] = {SYS_openat};
#endif
#else
constexpr bool kSupported = false;
constexpr long kReadSyscalls[] = {-1};
constexpr long kOpenSyscalls[] = {-1};
#endif

// Reads a small /proc file into buf (NUL-terminated).
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

// Does nothing: its only job is to exist without SA_RESTART, so that a
// blocked read() returns EINTR instead of being restarted by the kernel.
void OnUnblockSignal(int) {}

std::mutex g_handler_mutex;  // taken after Registry::mutex, never before it
bool g_installed = false;

}  // namespace

int32_t CurrentOsTid() { return static_cast<int32_t>(syscall(SYS_gettid)); }

uint64_t ThreadStartTime(int32_t os_tid) {
  char path[64];
  snprintf(path, sizeof(path), "/proc/self/task/%d/stat", os_tid);
  return StartTimeOf(path);
}

void PinModule(void* address) {
  Dl_info info;
  if (dladdr(address, &info) != 0 && info.dli_fname != nullptr)
    dlopen(info.dli_fname, RTLD_LAZY | RTLD_NOLOAD | RTLD_NODELETE);
}

void UsePreciseTimers() {
  // The default slack of a normal thread is 50 µs.
  prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
}

void WriteStderr(const std::string& text) {
  for (size_t done = 0; done < text.size();) {
    const ssize_t n = write(2, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    done += static_cast<size_t>(n);
  }
}

std::string ThreadWaitChannel(int32_t os_tid) {
  char path[64];
  char buf[128];
  snprintf(path, sizeof(path), "/proc/self/task/%d/wchan", os_tid);
  if (!ReadProcFile(path, buf, sizeof(buf))) return std::string();
  std::string out(buf);
  while (!out.empty() && (out.back() == '\n' || out.back() == '\0')) out.pop_back();
  return out == "0" ? std::string() : out;
}

bool CurrentCall(int32_t os_tid, BlockedCall* out) {
  // "nr a0 a1 a2 ..."; "running" or "-1 ..." when not in one.
  char path[64];
  char buf[256];
  snprintf(path, sizeof(path), "/proc/self/task/%d/syscall", os_tid);
  if (!ReadProcFile(path, buf, sizeof(buf))) return false;
  if (buf[0] < '0' || buf[0] > '9') return false;
  char* p = buf;
  out->nr = strtol(p, &p, 10);
  for (int i = 0; i < 3; i++) out->args[i] = strtoul(p, &p, 16);
  return true;
}

bool IsReadCall(long nr) {
  for (long r : kReadSyscalls)
    if (r == nr) return true;
  return false;
}

bool IsOpenCall(long nr) {
  for (long r : kOpenSyscalls)
    if (r == nr) return true;
  return false;
}

std::vector<long> ReadCallNumbers() { return {std::begin(kReadSyscalls), std::end(kReadSyscalls)}; }
std::vector<long> OpenCallNumbers() { return {std::begin(kOpenSyscalls), std::end(kOpenSyscalls)}; }

int UnblockSignal() { return kSupported ? SIGRTMIN + 3 : 0; }

int UnblockHandlerState(bool install) {
  if (!kSupported) return 2;
  std::lock_guard<std::mutex> lock(g_handler_mutex);
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

bool SignalThread(int32_t os_tid) {
  // tgkill: exactly this thread of this process (kill() would pick any).
  return kSupported && syscall(SYS_tgkill, getpid(), os_tid, UnblockSignal()) == 0;
}

bool ReadFifoOpenWait(int32_t os_tid, const BlockedCall& call, FifoOpenWait* out) {
  if (!kSupported) return false;
  unsigned long path_addr;
#if defined(SYS_open)
  if (call.nr == SYS_open) {
    out->dirfd = AT_FDCWD;
    path_addr = call.args[0];
    out->flags = static_cast<int>(call.args[1]);
  } else
#endif
  if (call.nr == SYS_openat) {
    out->dirfd = static_cast<int>(call.args[0]);
    path_addr = call.args[1];
    out->flags = static_cast<int>(call.args[2]);
  } else {
    return false;
  }
  // Only a FIFO's wait for its other end: an open stuck elsewhere (a hung
  // network mount) would hang our own lookup of the same path too.
  char wchan_path[64];
  char wchan[64];
  snprintf(wchan_path, sizeof(wchan_path), "/proc/self/task/%d/wchan", os_tid);
  if (!ReadProcFile(wchan_path, wchan, sizeof(wchan)) || strcmp(wchan, "wait_for_partner") != 0) return false;
  if ((out->flags & O_ACCMODE) == O_RDWR) return false;  // never waits
  char path[PATH_MAX];
  if (!ReadOwnString(path_addr, path, sizeof(path))) return false;
  out->path = path;
  return true;
}

int SatisfyFifoOpenWait(const FifoOpenWait& wait, bool* for_reading) {
  *for_reading = (wait.flags & O_ACCMODE) == O_RDONLY;
  // O_PATH opens no FIFO end and never waits; statx proves it is a FIFO
  // before anything is opened for real (a device could act on open). (statx,
  // not fstat: glibc 2.33 made fstat a symbol of its own, above the
  // prebuilds' glibc 2.28 floor; statx is in 2.28.)
  int opath = openat(wait.dirfd, wait.path.c_str(), O_PATH | O_CLOEXEC | (wait.flags & O_NOFOLLOW));
  if (opath < 0) return 0;
  struct statx st;
  int out = 0;
  if (statx(opath, "", AT_EMPTY_PATH, STATX_TYPE, &st) == 0 && S_ISFIFO(st.stx_mode)) {
    char self[64];
    snprintf(self, sizeof(self), "/proc/self/fd/%d", opath);
    // The other end, non-blocking: a writer for a reader's open, a reader for
    // a writer's. Closed at once; nothing is read or written.
    int other = open(self, (*for_reading ? O_WRONLY : O_RDONLY) | O_NONBLOCK | O_CLOEXEC);
    if (other >= 0) {
      close(other);
      out = 1;
    } else {
      out = errno == ENXIO ? 0 : -1;  // ENXIO: no reader any more
    }
  }
  close(opath);
  return out;
}

uint64_t ProcessStartTime(int32_t pid) {
  char path[64];
  snprintf(path, sizeof(path), "/proc/%d/stat", pid);
  return StartTimeOf(path);
}

int SignalProcessChecked(int32_t pid, uint64_t start_time, bool hard) {
  if (!kSupported || pid <= 1 || pid == getpid() || start_time == 0) return -1;
  const int sig = hard ? SIGKILL : SIGTERM;
#if defined(SYS_pidfd_open) && defined(SYS_pidfd_send_signal)
  // The pidfd pins this pid to one process; check that it is still the one
  // we listed, then signal through the pidfd: no reuse window.
  int pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
  if (pidfd >= 0) {
    int out = 0;
    if (ProcessStartTime(pid) == start_time) {
      out = syscall(SYS_pidfd_send_signal, pidfd, sig, nullptr, 0) == 0 ? 1 : (errno == ESRCH ? 0 : -1);
    }
    close(pidfd);
    return out;
  }
  if (errno == ESRCH) return 0;
#endif
  // No pidfds (Linux < 5.3): a microseconds-wide reuse window remains.
  if (ProcessStartTime(pid) != start_time) return 0;
  if (kill(pid, sig) == 0) return 1;
  return errno == ESRCH ? 0 : -1;
}

int64_t UnixSocketPeer(uint64_t inode) {
  if (inode == 0 || inode > 0xffffffffu) return 0;  // unix_diag inodes are 32-bit
  int fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
  if (fd < 0) return -1;
  struct {
    struct nlmsghdr nlh;
    struct unix_diag_req req;
  } msg;
  memset(&msg, 0, sizeof(msg));
  msg.nlh.nlmsg_len = sizeof(msg);
  msg.nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
  msg.nlh.nlmsg_flags = NLM_F_REQUEST;  // one socket, by inode (no dump)
  msg.req.sdiag_family = AF_UNIX;
  msg.req.udiag_states = ~0u;
  msg.req.udiag_ino = static_cast<uint32_t>(inode);
  msg.req.udiag_show = UDIAG_SHOW_PEER;
  msg.req.udiag_cookie[0] = msg.req.udiag_cookie[1] = ~0u;  // INET_DIAG_NOCOOKIE: any
  struct sockaddr_nl nl;
  memset(&nl, 0, sizeof(nl));
  nl.nl_family = AF_NETLINK;
  int64_t out = -1;
  if (sendto(fd, &msg, sizeof(msg), 0, reinterpret_cast<struct sockaddr*>(&nl), sizeof(nl)) == static_cast<ssize_t>(sizeof(msg))) {
    alignas(struct nlmsghdr) char buf[8192];
    ssize_t n;
    do n = recv(fd, buf, sizeof(buf), 0); while (n < 0 && errno == EINTR);
    if (n > 0) {
      out = 0;
      for (struct nlmsghdr* h = reinterpret_cast<struct nlmsghdr*>(buf); NLMSG_OK(h, static_cast<size_t>(n)); h = NLMSG_NEXT(h, n)) {
        if (h->nlmsg_type == NLMSG_ERROR) {
          auto* err = static_cast<struct nlmsgerr*>(NLMSG_DATA(h));
          // ENOENT: no such socket (closed meanwhile); anything else: no diag.
          out = err->error == -ENOENT ? 0 : -1;
          break;
        }
        if (h->nlmsg_type != SOCK_DIAG_BY_FAMILY) continue;
        auto* m = static_cast<struct unix_diag_msg*>(NLMSG_DATA(h));
        int len = static_cast<int>(h->nlmsg_len - NLMSG_LENGTH(sizeof(*m)));
        for (struct rtattr* a = reinterpret_cast<struct rtattr*>(m + 1); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
          if (a->rta_type == UNIX_DIAG_PEER && RTA_PAYLOAD(a) >= sizeof(uint32_t)) {
            uint32_t peer;
            memcpy(&peer, RTA_DATA(a), sizeof(peer));
            out = peer;
          }
        }
        break;
      }
    }
  }
  close(fd);
  return out;
}

std::vector<FdHolder> FdHolders(const std::vector<std::string>& targets) {
  std::vector<FdHolder> out;
  if (targets.empty()) return out;
  DIR* proc = opendir("/proc");
  if (proc == nullptr) return out;
  const pid_t self = getpid();
  char path[320];  // "/proc/<pid>/fd/" + a d_name (up to 255)
  char link[64];
  while (struct dirent* p = readdir(proc)) {
    if (p->d_name[0] < '1' || p->d_name[0] > '9') continue;
    int pid = atoi(p->d_name);
    if (pid == self) continue;
    snprintf(path, sizeof(path), "/proc/%d/fd", pid);
    DIR* fds = opendir(path);
    if (fds == nullptr) continue;  // gone, or another user's
    while (struct dirent* f = readdir(fds)) {
      if (f->d_name[0] < '0' || f->d_name[0] > '9') continue;
      snprintf(path, sizeof(path), "/proc/%d/fd/%s", pid, f->d_name);
      ssize_t n = readlink(path, link, sizeof(link) - 1);
      // pipe:[N] / socket:[N]: the first letter filters most fds out.
      if (n <= 0 || (link[0] != 'p' && link[0] != 's')) continue;
      link[n] = '\0';
      for (size_t i = 0; i < targets.size(); i++) {
        if (targets[i] == link) out.push_back({pid, atoi(f->d_name), static_cast<int>(i)});
      }
    }
    closedir(fds);
  }
  closedir(proc);
  return out;
}

}  // namespace tk::platform
