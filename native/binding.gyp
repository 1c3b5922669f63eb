{
  "targets": [
    {
      "target_name": "powercut_native",
      "sources": ["src/powercut_native.cc"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS", "_GNU_SOURCE"],
      "cflags_cc": ["-std=c++17", "-fexceptions", "-Wall"],
      "cflags_cc!": ["-fno-exceptions"]
    }
  ]
}
