// Who holds the other end of a pipe or socket. spawnSync's stdio "pipes" are
// socketpairs (libuv), and the other end of a socketpair has its own inode,
// which only the kernel's sock_diag interface names (what `ss -x` shows);
// the processes holding an end are found in /proc/*/fd.
#pragma once

#include <napi.h>

namespace tk {

// The JS surface: unixPeers(inodes) (platform::UnixSocketPeer of each) and
// fdHolders(targets) (platform::FdHolders, flat).
void InitPeers(Napi::Env env, Napi::Object exports);

}  // namespace tk
