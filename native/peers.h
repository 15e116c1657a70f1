// Who holds the other end of a pipe or socket. spawnSync's stdio "pipes" are
// socketpairs (libuv), and the other end of a socketpair has its own inode,
// which only the kernel's sock_diag interface names (what `ss -x` shows);
// the processes holding an end are found in /proc/*/fd.
#pragma once

#include <napi.h>

#include <cstdint>
#include <string>
#include <vector>

namespace tk {

// The inode of the socket connected to Unix socket `inode`: > 0 found,
// 0 none (not connected, or not a Unix socket), -1 sock_diag unavailable
// (kernel without CONFIG_UNIX_DIAG, or refused).
int64_t UnixSocketPeer(uint64_t inode);

struct FdHolder {
  int pid;
  int fd;
  int target;  // index into the targets asked for
};

// Every fd of every other process (/proc/*/fd readable to us; never this
// process) whose link is one of `targets` ("pipe:[N]", "socket:[N]"). Plain
// readdir/readlink: a full scan is a few ms where the same in JS costs tens.
std::vector<FdHolder> FdHolders(const std::vector<std::string>& targets);

void InitPeers(Napi::Env env, Napi::Object exports);

}  // namespace tk
