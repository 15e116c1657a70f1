# node-gyp build of the addon (cmake-js: CMakeLists.txt, kept in step).
# C++20 for every Node: Node 24+'s v8config.h refuses anything older, and
# Node 20/22's common.gypi says -std=gnu++17, so its flag is removed and ours
# set (two -std flags would leave the winner to the flag order).
# TK_DEBUG_CHECKS (Debug builds, and the sanitizer build of test:sanitize):
# a broken guard (JS under the registry mutex or in an interrupt callback,
# registry state touched unlocked) stops the process (native/registry.h).
{
  "targets": [
    {
      "target_name": "thread_kill",
      "sources": [
        "native/addon.cc",
        "native/deadline.cc",
        "native/kill.cc",
        "native/landing.cc",
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
        ["OS=='mac'", {"xcode_settings": {"CLANG_CXX_LANGUAGE_STANDARD": "c++20", "GCC_SYMBOLS_PRIVATE_EXTERN": "YES"}}]
      ]
    }
  ]
}
