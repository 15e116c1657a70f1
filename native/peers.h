// The peer of a Unix-domain socket, by inode: spawnSync's stdio "pipes" are
// socketpairs (libuv), and the other end of a socketpair has its own inode,
// which only the kernel's sock_diag interface names (what `ss -x` shows).
#pragma once

#include <napi.h>

#include <cstdint>

namespace tk {

// The inode of the socket connected to Unix socket `inode`: > 0 found,
// 0 none (not connected, or not a Unix socket), -1 sock_diag unavailable
// (kernel without CONFIG_UNIX_DIAG, or refused).
int64_t UnixSocketPeer(uint64_t inode);

void InitPeers(Napi::Env env, Napi::Object exports);

}  // namespace tk
