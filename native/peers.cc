#include "peers.h"

#if defined(__linux__)
#include <errno.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>
#include <dirent.h>
#include <sys/socket.h>
#include <unistd.h>
#endif

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace tk {

#if defined(__linux__)
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
#else
int64_t UnixSocketPeer(uint64_t) { return -1; }
std::vector<FdHolder> FdHolders(const std::vector<std::string>&) { return {}; }
#endif

namespace {

// unixPeers(inodes: number[]) -> number[] (UnixSocketPeer of each).
Napi::Value JsUnixPeers(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Array out = Napi::Array::New(env);
  if (info.Length() < 1 || !info[0].IsArray()) return out;
  Napi::Array in = info[0].As<Napi::Array>();
  for (uint32_t i = 0; i < in.Length() && i < 64; i++) {
    Napi::Value v = in.Get(i);
    double d = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : 0;
    int64_t peer = d > 0 && d <= 4294967295.0 ? UnixSocketPeer(static_cast<uint64_t>(d)) : 0;
    out.Set(i, Napi::Number::New(env, static_cast<double>(peer)));
  }
  return out;
}

// fdHolders(targets: string[]) -> number[] (pid, fd, target index; flat).
Napi::Value JsFdHolders(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Array out = Napi::Array::New(env);
  if (info.Length() < 1 || !info[0].IsArray()) return out;
  Napi::Array in = info[0].As<Napi::Array>();
  std::vector<std::string> targets;
  for (uint32_t i = 0; i < in.Length() && i < 64; i++) {
    Napi::Value v = in.Get(i);
    targets.push_back(v.IsString() ? v.As<Napi::String>().Utf8Value() : std::string());
  }
  uint32_t k = 0;
  for (const FdHolder& h : FdHolders(targets)) {
    out.Set(k++, Napi::Number::New(env, h.pid));
    out.Set(k++, Napi::Number::New(env, h.fd));
    out.Set(k++, Napi::Number::New(env, h.target));
  }
  return out;
}

}  // namespace

void InitPeers(Napi::Env env, Napi::Object exports) {
  exports.Set("unixPeers", Napi::Function::New(env, JsUnixPeers));
  exports.Set("fdHolders", Napi::Function::New(env, JsFdHolders));
}

}  // namespace tk
