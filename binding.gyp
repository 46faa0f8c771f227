# node-gyp build of the cairn addon. The source list lives in native/sources.txt, shared
# with CMakeLists.txt (cmake-js), so adding a .cc file is one edit there.
{
  "targets": [
    {
      "target_name": "cairn",
      "sources": [
        "<!@(node -p \"require('fs').readFileSync('native/sources.txt', 'utf8').split(/\\r?\\n/).map((l) => l.trim()).filter((l) => l && !l.startsWith('#')).join(' ')\")"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-std=gnu++17", "-std=gnu++20"],
      "cflags_cc": ["-std=c++17", "-fexceptions", "-fvisibility=hidden", "-Wall", "-Wextra"]
    }
  ]
}
