# node-gyp build of the addon (cmake-js: CMakeLists.txt, kept in step).
# C++20 for every Node: Node 24+'s v8config.h refuses anything older, and
# Node 20/22's common.gypi says -std=gnu++17, so its flag is removed and ours
# set (two -std flags would leave the winner to the flag order).
# TK_DEBUG_CHECKS (Debug builds, and the sanitizer build of test:sanitize):
# a broken guard (JS under the registry mutex or in an interrupt callback,
# registry state touched unlocked) stops the process (native/registry.h).
# tk_glibc_floor (THREAD_KILL_GLIBC_FLOOR=1, set by scripts/prebuild.js for
# the Linux prebuilds): loadable down to glibc 2.28 whatever glibc builds it
# (native/glibc_floor.cc; docs/DESIGN.md, "Prebuilt binaries"). Static
# libstdc++ kept private (--exclude-libs), libgcc_s shared (a static unwinder
# from a new toolchain calls glibc 2.35's _dl_find_object). node-gyp only:
# prebuildify builds with it; the cmake-js build is a local one.
{
  "targets": [
    {
      "target_name": "thread_kill",
      "variables": {
        "tk_glibc_floor%": "<!(node -p \"process.env.THREAD_KILL_GLIBC_FLOOR === '1' ? 1 : 0\")"
      },
      "sources": [
        "native/addon.cc",
        "native/deadline.cc",
        "native/kill.cc",
        "native/landing.cc",
        "native/peers.cc",
        "native/region.cc",
        "native/registry.cc",
        "native/stack.cc",
        "native/thread.cc",
        "native/unblock.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=9", "NAPI_DISABLE_CPP_EXCEPTIONS", "NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS"],
      "cflags_cc": ["-std=c++20", "-fvisibility=hidden", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "cflags_cc!": ["-fno-exceptions", "-std=gnu++17", "-std=gnu++20"],
      "configurations": {"Debug": {"defines": ["TK_DEBUG_CHECKS"]}},
      "conditions": [
        ["OS=='linux'", {"sources": ["native/platform_linux.cc"]}],
        ["OS=='linux' and tk_glibc_floor==1", {
          "sources": ["native/glibc_floor.cc"],
          "ldflags": [
            "-static-libstdc++", "-Wl,--exclude-libs,ALL",
            "-Wl,--wrap=pthread_once", "-Wl,--wrap=pthread_mutex_trylock", "-Wl,--wrap=pthread_cond_clockwait",
            "-Wl,--wrap=pthread_create", "-Wl,--wrap=pthread_detach", "-Wl,--wrap=pthread_join",
            "-Wl,--wrap=pthread_key_create", "-Wl,--wrap=pthread_key_delete",
            "-Wl,--wrap=pthread_getspecific", "-Wl,--wrap=pthread_setspecific",
            "-Wl,--wrap=dlopen", "-Wl,--wrap=dladdr", "-Wl,--wrap=dlsym",
            "-Wl,--wrap=__libc_single_threaded", "-Wl,--wrap=arc4random"
          ]
        }],
        ["OS=='mac'", {"xcode_settings": {"CLANG_CXX_LANGUAGE_STANDARD": "c++20", "GCC_SYMBOLS_PRIVATE_EXTERN": "YES"}}]
      ]
    }
  ]
}
