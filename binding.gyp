{
  "targets": [
    {
      "target_name": "msh_native",
      "sources": ["<!@(find native/src -name *.cc)"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")", "native/src"],
      "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS"],
      "cflags_cc": ["-std=c++20", "-O2", "-Wall", "-Wextra", "-Wno-unused-parameter", "-fno-exceptions"],
      "cflags_cc!": ["-fno-rtti", "-std=gnu++17"],
      "libraries": ["-lxdp", "-lbpf", "-lpthread"]
    }
  ]
}
