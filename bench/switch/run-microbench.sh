#!/usr/bin/env bash
# Builds and runs the native data-path microbenchmark (no Node). Args go to the binary
# (first: guest buffer stride, default 2048).
set -euo pipefail
cd "$(dirname "$0")/../.."
out=${TMPDIR:-/tmp}/msh-microbench
g++ -O2 -std=c++20 -Wall -I native/src bench/switch/microbench.cc native/src/frame.cc \
  native/src/classifier.cc native/src/link.cc native/src/guest_ring.cc native/src/pcap.cc \
  native/src/errors.cc native/src/bench_reference.cc native/src/backends/switch.cc \
  -lpthread -o "$out"
"$out" "$@"
