{
  "targets": [
    {
      "target_name": "thread_kill",
      "sources": [
        "native/addon.cc",
        "native/deadline.cc",
        "native/kill.cc",
        "native/region.cc",
        "native/registry.cc",
        "native/stack.cc",
        "native/thread.cc",
        "native/unblock.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=9", "NAPI_DISABLE_CPP_EXCEPTIONS", "NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS"],
      "cflags_cc": ["-std=c++17", "-fvisibility=hidden", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "cflags_cc!": ["-fno-exceptions"],
      "conditions": [
        ["OS=='mac'", {"xcode_settings": {"CLANG_CXX_LANGUAGE_STANDARD": "c++17", "GCC_SYMBOLS_PRIVATE_EXTERN": "YES"}}]
      ]
    }
  ]
}
