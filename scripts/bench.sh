#!/usr/bin/env bash
# Speed, side by side in one run (scripts/bench.py): mcc beside llama.cpp's own
# llama-bench, built natively from the llama-cpp-python sdist's vendored source
# (scripts/llama-bench.sh, cached in .cache/llama.cpp). Not part of the tests:
# timings are not assertions.
#   the default model (SmolLM2-135M Q4_1), pp512 / tg128 at 1 and 2 threads
#   a Qwen2.5-0.5B-shaped Q4_0 file, pp512 / tg128 at 1 and 2 threads
#   a Qwen2.5-7B-shaped Q4_0 file, pp64 / tg16 at 2 threads
#   a Qwen2.5-7B-shaped GPTQ g128 checkpoint, pp64 / tg16 at 2 threads (llama.cpp
#     does not read GPTQ safetensors: its read rate is compared with llama.cpp's
#     on the 7B Q4_0 file, the two in turns)
#   the default model 2048 positions deep, tg32 at 2 threads, with f16 and int8
#     KV caches (llama.cpp: f16 and q8_0; scripts/bench_depth.py)
# The shaped files are random weights (test/fixtures/make_shape_gguf.py,
# make_7b_gptq.py), about 10 GB in .cache/models, written once.
# Usage: scripts/bench.sh [--quick] [--jit]
#   --quick: the default model only
#   --jit:   mcc's start-up JIT tiles against its intrinsics' tiles (MCC_JIT=0)
#            on the same executables, instead of llama.cpp
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$ROOT/scripts/setup.sh" --test
"$ROOT/scripts/build.sh" build >/dev/null
PY="$ROOT/.cache/venv/bin/python"
M="$ROOT/.cache/models"
OUT="$ROOT/out/bench"
mkdir -p "$OUT"
# The native build (AMX included) crashes in its AMX matrix path on this
# kind of host (Sapphire Rapids: SIGSEGV in ggml_backend_amx_mul_mat, Q4_0
# and Q4_1 alike), so by default llama.cpp is built for every extension of
# this CPU but AMX; LLAMA_VARIANT=native tries the full native build.
LLAMA_BENCH=$("$ROOT/scripts/llama-bench.sh" "${LLAMA_VARIANT:-noamx}")

compile() { # gguf-or-dir name
  [ "$OUT/$2" -nt "$ROOT/build/bin/mcc-runtime" ] && [ "$OUT/$2" -nt "$ROOT/build/bin/mcc" ] ||
    "$ROOT/build/bin/mcc" compile -q "$1" -o "$OUT/$2"
}

DEFAULT="$M/SmolLM2-135M-Instruct.Q4_1.gguf"
compile "$DEFAULT" smollm
cases=("smollm2-135m-q4_1:$OUT/smollm:$DEFAULT:1:512:128" "smollm2-135m-q4_1:$OUT/smollm:$DEFAULT:2:512:128")
QUICK=0 JIT=0
for arg in "$@"; do
  case "$arg" in
    --quick) QUICK=1 ;;
    --jit) JIT=1 ;;
    *) echo "usage: scripts/bench.sh [--quick] [--jit]" >&2; exit 2 ;;
  esac
done
if [ "$QUICK" = 0 ]; then
  [ -f "$M/qwen2.5-0.5b-shape-q4_0.gguf" ] || "$PY" "$ROOT/test/fixtures/make_shape_gguf.py" qwen2.5-0.5b "$M/qwen2.5-0.5b-shape-q4_0.gguf"
  [ -f "$M/qwen2.5-7b-shape-q4_0.gguf" ] || "$PY" "$ROOT/test/fixtures/make_shape_gguf.py" qwen2.5-7b "$M/qwen2.5-7b-shape-q4_0.gguf"
  [ -f "$M/qwen2.5-7b-shape-gptq-g128/model.safetensors" ] || "$PY" "$ROOT/test/fixtures/make_7b_gptq.py" "$M/qwen2.5-7b-shape-gptq-g128"
  compile "$M/qwen2.5-0.5b-shape-q4_0.gguf" qwen05
  compile "$M/qwen2.5-7b-shape-q4_0.gguf" qwen7
  compile "$M/qwen2.5-7b-shape-gptq-g128" qwen7-gptq
  cases+=("qwen2.5-0.5b-shape-q4_0:$OUT/qwen05:$M/qwen2.5-0.5b-shape-q4_0.gguf:1:512:128"
          "qwen2.5-0.5b-shape-q4_0:$OUT/qwen05:$M/qwen2.5-0.5b-shape-q4_0.gguf:2:512:128"
          "qwen2.5-7b-shape-q4_0:$OUT/qwen7:$M/qwen2.5-7b-shape-q4_0.gguf:2:64:16"
          "qwen2.5-7b-shape-gptq-g128:$OUT/qwen7-gptq:-:2:64:16:$M/qwen2.5-7b-shape-q4_0.gguf")
fi
if [ "$JIT" = 1 ]; then
  "$PY" "$ROOT/scripts/bench.py" --jit "${cases[@]}"
  exit
fi
echo "llama.cpp: $LLAMA_BENCH; CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2)"
"$PY" "$ROOT/scripts/bench.py" --llama-bench "$LLAMA_BENCH" "${cases[@]}"
echo
# Deep in the context, where attention's reads add up: the KV caches' kinds.
"$PY" "$ROOT/scripts/bench_depth.py" --llama-bench "$LLAMA_BENCH" --exe "$OUT/smollm" --gguf "$DEFAULT" \
  --label smollm2-135m-q4_1 --depth 2048 --tg 32
