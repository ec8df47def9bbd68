#!/usr/bin/env bash
# One-shot, idempotent set-up for a fresh Debian 12 + Node 20 machine (run as root):
# system packages, npm dependencies, the native addon, the BPF program, TypeScript,
# and the shipped stacks. Each step is skipped when its output is already up to date.
set -euo pipefail
cd "$(dirname "$0")/.."

SYSTEM_PACKAGES=(clang llvm libbpf-dev libxdp-dev bpftool gcc-multilib pkg-config iproute2
  iputils-ping nftables ethtool socat curl tcpdump tshark wrk nginx-light libclang-rt-14-dev
  python3-scapy)

missing=()
for p in "${SYSTEM_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "msh setup: missing system packages: ${missing[*]}" >&2
    echo "  run as root, or: sudo apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
  echo "msh setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # tshark asks whether non-root users may capture; answer no without a prompt.
  echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# npm dependencies (this also builds the native addon through node-gyp).
if [[ ! -d node_modules || package-lock.json -nt node_modules/.package-lock.json ]]; then
  echo "msh setup: npm ci"
  npm ci --no-audit --no-fund
fi

bash scripts/build.sh

# `npx msh` inside this checkout: npx finds commands in node_modules/.bin.
ln -sfn ../../bin/msh.js node_modules/.bin/msh
