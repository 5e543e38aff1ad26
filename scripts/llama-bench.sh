#!/usr/bin/env bash
# Builds llama.cpp's own llama-bench (and llama-server) natively from the
# source vendored in the llama-cpp-python sdist (PyPI), for the benchmarks
# only: never used by the tests. Cached under .cache/llama.cpp/<variant>.
#   scripts/llama-bench.sh [native|noamx]     prints the path of llama-bench
# native: GGML_NATIVE (every extension of this CPU, AMX included) + OpenMP,
# as llama.cpp builds by default. noamx: the same without the AMX matrix
# path, which crashes on Q4_1 on some hosts (docs/speed.md).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VARIANT="${1:-native}"
VERSION=0.3.36
SRC="$ROOT/.cache/llama.cpp/src-$VERSION"
OUT="$ROOT/.cache/llama.cpp/$VARIANT"
if [ ! -x "$OUT/bin/llama-bench" ]; then
  if [ ! -d "$SRC" ]; then
    tmp="$(mktemp -d)"
    python3 -m pip download -q --disable-pip-version-check --no-deps --no-binary :all: \
      "llama-cpp-python==$VERSION" -d "$tmp" >&2
    mkdir -p "$SRC.tmp"
    tar -xzf "$tmp"/llama_cpp_python-$VERSION.tar.gz -C "$SRC.tmp" --strip-components=1
    mv "$SRC.tmp" "$SRC"
    rm -rf "$tmp"
  fi
  flags=(-DCMAKE_BUILD_TYPE=Release -DGGML_OPENMP=ON -DLLAMA_CURL=OFF -DLLAMA_BUILD_TESTS=OFF
         -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TOOLS=ON -DLLAMA_BUILD_SERVER=ON -DBUILD_SHARED_LIBS=OFF)
  if [ "$VARIANT" = noamx ]; then
    flags+=(-DGGML_NATIVE=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF)
    cpu="$(grep -m1 '^flags' /proc/cpuinfo || true)"
    for f in avx:AVX avx2:AVX2 fma:FMA f16c:F16C bmi2:BMI2 avx512f:AVX512 avx512vbmi:AVX512_VBMI \
             avx512_vnni:AVX512_VNNI avx512_bf16:AVX512_BF16 avx_vnni:AVX_VNNI; do
      if [[ " $cpu " == *" ${f%%:*} "* ]]; then flags+=(-DGGML_${f##*:}=ON); else flags+=(-DGGML_${f##*:}=OFF); fi
    done
  else
    flags+=(-DGGML_NATIVE=ON)
  fi
  cmake -S "$SRC/vendor/llama.cpp" -B "$OUT/build" -G Ninja "${flags[@]}" >&2
  ninja -C "$OUT/build" -j"${JOBS:-2}" llama-bench llama-server >&2
  mkdir -p "$OUT/bin"
  cp "$OUT/build/bin/llama-bench" "$OUT/build/bin/llama-server" "$OUT/bin/"
fi
echo "$OUT/bin/llama-bench"
