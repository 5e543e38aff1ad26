#!/usr/bin/env bash
# Batching pays: aggregate generated tokens/s of `NAME serve` with 1 and with
# 4 concurrent requests, beside llama.cpp's llama-server -np 4 (built from
# the llama-cpp-python sdist's vendored source, scripts/llama-bench.sh), for
# the default model and the 7B-shaped Q4_0 file. A benchmark, not a test.
# Usage: scripts/bench-serve.sh [--quick]   (--quick: the default model only)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$ROOT/scripts/setup.sh" --test
"$ROOT/scripts/build.sh" build >/dev/null
PY="$ROOT/.cache/venv/bin/python"
M="$ROOT/.cache/models"
OUT="$ROOT/out/bench"
mkdir -p "$OUT"
LLAMA_BENCH=$("$ROOT/scripts/llama-bench.sh" "${LLAMA_VARIANT:-noamx}")
LLAMA_SERVER="$(dirname "$LLAMA_BENCH")/llama-server"
compile() {
  [ "$OUT/$2" -nt "$ROOT/build/bin/mcc-runtime" ] && [ "$OUT/$2" -nt "$ROOT/build/bin/mcc" ] ||
    "$ROOT/build/bin/mcc" compile -q "$1" -o "$OUT/$2"
}
DEFAULT="$M/SmolLM2-135M-Instruct.Q4_1.gguf"
compile "$DEFAULT" smollm
"$PY" "$ROOT/scripts/bench_serve.py" --mcc "$OUT/smollm" --llama-server "$LLAMA_SERVER" --gguf "$DEFAULT" \
  --tokens 256 --label smollm2-135m-q4_1
if [ "${1:-}" != "--quick" ]; then
  [ -f "$M/qwen2.5-7b-shape-q4_0.gguf" ] || "$PY" "$ROOT/test/fixtures/make_shape_gguf.py" qwen2.5-7b "$M/qwen2.5-7b-shape-q4_0.gguf"
  compile "$M/qwen2.5-7b-shape-q4_0.gguf" qwen7
  "$PY" "$ROOT/scripts/bench_serve.py" --mcc "$OUT/qwen7" --llama-server "$LLAMA_SERVER" \
    --gguf "$M/qwen2.5-7b-shape-q4_0.gguf" --tokens 32 --rounds 2 --label qwen2.5-7b-shape-q4_0
fi
