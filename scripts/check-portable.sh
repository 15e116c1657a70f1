#!/usr/bin/env bash
# The portable core compiles for Windows: every native file except the
# platform layer (native/platform_*.cc, see native/platform.h) is checked
# with mingw-w64 (-fsyntax-only), against this Node's headers and
# node-addon-api, so an OS-only call or header creeping into the core fails
# CI here rather than in a port. (Syntax only: no Windows Node to link
# against or run on; "os" stays ["linux"] until a port's tests pass.)
set -euo pipefail
cd "$(dirname "$0")/.."
CXX=${MINGW_CXX:-x86_64-w64-mingw32-g++-posix}
if ! command -v "$CXX" > /dev/null; then
  # CI installs it (Debian's archive); elsewhere, say exactly what is missing.
  if [ "$(id -u)" = 0 ] && command -v apt-get > /dev/null; then
    apt-get install -y --no-install-recommends g++-mingw-w64-x86-64-posix > /dev/null
  else
    echo "check-portable: $CXX not found (apt-get install g++-mingw-w64-x86-64-posix)" >&2
    exit 1
  fi
fi
node_inc=$(node -p "require('path').join(process.execPath, '..', '..', 'include', 'node')")
[ -f "$node_inc/node.h" ] || node_inc=$(ls -d .node-matrix/*/package/include/node 2>/dev/null | head -1)
[ -f "$node_inc/node.h" ] || { echo "check-portable: no Node headers (node.h) found" >&2; exit 1; }
napi_inc=$(node -p "require('node-addon-api').include_dir")
failed=0
checked=0
for f in native/*.cc; do
  # platform_*.cc: the OS layer; glibc_floor.cc: the Linux prebuilds' glibc
  # shim (linked only into them, binding.gyp's tk_glibc_floor).
  case "$f" in native/platform_*.cc|native/glibc_floor.cc) continue ;; esac
  checked=$((checked + 1))
  if ! "$CXX" -std=c++20 -fsyntax-only -Wall -Wextra -Wno-unused-parameter \
      -DNAPI_VERSION=9 -DNAPI_DISABLE_CPP_EXCEPTIONS -DNODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS \
      -I "$napi_inc" -I "$node_inc" "$f"; then
    echo "check-portable: $f does not compile for Windows (mingw-w64)" >&2
    failed=$((failed + 1))
  fi
done
echo "check-portable: $checked portable files, $failed failed ($CXX, Node headers $node_inc)"
[ "$failed" = 0 ]
