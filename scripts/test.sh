#!/usr/bin/env bash
# Every test, on a fresh machine or a used one: setup, release build, unit
# tests, the lit suite; then an ASan/UBSan build that reruns the unit tests
# and the lit tests of import, bad input, passes and code generation, and
# the runtime on every fixture; and a short fixed-time run of each libFuzzer
# target seeded from the fixtures.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# A per-test timeout (lit needs psutil for it): a hang fails its test instead of the run.
LIT=("$ROOT/.cache/venv/bin/python" /usr/lib/llvm-19/build/utils/lit/lit.py -sv --timeout 900 --param "python=$ROOT/.cache/venv/bin/python")
FUZZ_SECONDS="${FUZZ_SECONDS:-30}"

step() { printf '\n== %s\n' "$*"; }

step setup
scripts/setup.sh --test

step "build (release)"
scripts/build.sh build

step "unit tests"
build/bin/mcc-unittests --gtest_brief=1

step "lit"
"${LIT[@]}" --param strict=1 test

step "build (ASan + UBSan + libFuzzer)"
scripts/build.sh build-san -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMCC_SANITIZE=ON -DMCC_FUZZ=ON

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
step "unit tests under sanitizers"
build-san/bin/mcc-unittests --gtest_brief=1

step "lit (import, bad input, passes and codegen, the runtime on every fixture) under sanitizers"
"${LIT[@]}" --param "mcc_bin=$ROOT/build-san/bin" --param "work=$ROOT/build-san/test-data" \
  test/bad-input test/import test/inspect test/mlir test/runtime/cli.test test/e2e/fixtures.test test/server/load.test

step "fuzz smoke (${FUZZ_SECONDS}s per target)"
FX="$ROOT/build/test-data/fixtures"
BAD="$ROOT/build/test-data/bad"
SEEDS="$ROOT/build-san/fuzz/seeds"
rm -rf "$SEEDS" && mkdir -p "$SEEDS/gguf" "$SEEDS/safetensors"
cp "$FX"/gguf/llama-q4_0.gguf "$FX"/gguf/qwen2-q4_k_m.gguf "$FX"/gguf/llama-spm-q8_0.gguf "$BAD"/gguf-*.gguf "$SEEDS/gguf/"
for d in "$FX"/st/*; do
  n=$(basename "$d")
  cp "$d/config.json" "$SEEDS/safetensors/$n.config.json"
  # The header and a little data: enough for the parser, small enough to mutate fast.
  head -c 8192 "$(ls "$d"/*.safetensors | head -n1)" >"$SEEDS/safetensors/$n.st"
  for f in quantize_config.json quant_config.json; do
    [ -f "$d/$f" ] && cp "$d/$f" "$SEEDS/safetensors/$n.$f"
  done
done
cp "$FX"/st/llama-f16/tokenizer.json "$SEEDS/safetensors/bytelevel.tokenizer.json"
cp "$FX"/st/llama-spm-bf16/tokenizer.json "$SEEDS/safetensors/spm.tokenizer.json"
for t in safetensors gguf; do
  mkdir -p "build-san/fuzz/corpus-$t"
  log="build-san/fuzz/fuzz-$t.log"
  if ! (cd build-san/fuzz && "$ROOT/build-san/bin/fuzz-$t" -max_total_time="$FUZZ_SECONDS" -rss_limit_mb=4096 \
        -print_final_stats=1 "corpus-$t" "$SEEDS/$t") >"$log" 2>&1; then
    tail -n 40 "$log" >&2
    echo "fuzz-$t found a failing input (saved in build-san/fuzz/)" >&2
    exit 1
  fi
  echo "fuzz-$t: $(grep -E '^stat::number_of_executed_units' "$log" | awk '{print $2}') inputs, no failures"
done

step "all tests passed"
