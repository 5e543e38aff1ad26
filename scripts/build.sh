#!/usr/bin/env bash
# Configures and builds mcc. BUILD_DIR (default build) and extra CMake flags
# as arguments: scripts/build.sh build-san -DMCC_SANITIZE=ON -DMCC_FUZZ=ON
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="$ROOT/${1:-build}"
shift || true
# One compiler cache per machine, shared by every clone (paths made relative
# to the clone, so a fresh clone, CI's included, hits what another compiled).
export CCACHE_DIR="${CCACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/mcc/ccache}" CCACHE_BASEDIR="$ROOT"
if [ ! -f "$BUILD/build.ninja" ]; then
  cmake -G Ninja -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_C_COMPILER=clang-19 -DCMAKE_CXX_COMPILER=clang++-19 "$@" >/dev/null
fi
ninja -C "$BUILD" -j"${JOBS:-2}"
