{
  "variables": {
    "has_liburing": "<!(test -f /usr/include/liburing.h && echo 1 || echo 0)"
  },
  "targets": [
    {
      "target_name": "powercut_native",
      "sources": ["src/powercut_native.cc", "src/page_format.cc"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS", "_GNU_SOURCE"],
      "cflags_cc": ["-std=c++17", "-fexceptions", "-Wall"],
      "cflags_cc!": ["-fno-exceptions"]
    },
    {
      "target_name": "powercut_uring",
      "sources": ["src/powercut_uring.cc"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS", "_GNU_SOURCE"],
      "cflags_cc": ["-std=c++17", "-fexceptions", "-Wall"],
      "cflags_cc!": ["-fno-exceptions"],
      "conditions": [
        ["has_liburing==1", { "defines": ["HAVE_LIBURING=1"], "libraries": ["-luring"] }]
      ]
    }
  ]
}
