#!/usr/bin/env bash
# Builds everything that is built from this repository, skipping what is up to date:
# native addon, BPF object, TypeScript, shipped stacks.
set -euo pipefail
cd "$(dirname "$0")/.."

newer_than() { # newer_than OUTPUT INPUT...: true if OUTPUT is missing or older than an input
  local out=$1; shift
  [[ ! -e $out ]] && return 0
  [[ -n $(find "$@" -newer "$out" -type f 2>/dev/null | head -n 1) ]]
}

# binding.gyp lists the sources with `find` at configure time: a new or removed source
# file needs a configure (and a build) even when no file is newer than the addon.
sources=$(find native/src -name '*.cc' | sort)
sources_changed() { [[ $sources != "$(cat build/.sources 2>/dev/null)" ]]; }
if sources_changed || newer_than build/Release/msh_native.node native/src native/bpf binding.gyp; then
  echo "msh build: native addon"
  # node-gyp ships with npm; build against the headers that come with this Node
  # (no download: the machine has no network beyond the package registries).
  node_gyp="$(npm root -g)/npm/node_modules/node-gyp/bin/node-gyp.js"
  nodedir=$(node -p "require('path').resolve(process.execPath, '../..')")
  # configure once, then incremental builds: `rebuild` would wipe build/ (the BPF object,
  # bench binaries and test stacks live there too) under any process using it.
  if [[ ! -f build/Makefile || binding.gyp -nt build/Makefile ]] || sources_changed; then
    node "$node_gyp" configure --silent --nodedir="$nodedir"
  fi
  node "$node_gyp" build --silent --nodedir="$nodedir" -j 2
  printf '%s\n' "$sources" > build/.sources
fi
if newer_than build/bpf/msh_steer.bpf.o native/bpf; then
  echo "msh build: XDP program"
  mkdir -p build/bpf
  clang -O2 -g -target bpf -I/usr/include/x86_64-linux-gnu -Wall \
    -c native/bpf/msh_steer.bpf.c -o build/bpf/msh_steer.bpf.o
fi
if newer_than dist/.stamp host/src bench tsconfig.json; then
  echo "msh build: TypeScript"
  npx tsc -p tsconfig.json
  touch dist/.stamp
fi
if newer_than build/stacks/.stamp stacks guest-sdk/assembly guest-sdk/transform wit dist/.stamp asconfig.json; then
  echo "msh build: stacks"
  node bin/msh.js build --shipped
  mkdir -p build/stacks && touch build/stacks/.stamp
fi
