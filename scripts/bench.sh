#!/usr/bin/env bash
# Speed figures for the default model: mcc beside llama.cpp on this machine
# (scripts/bench.py). Not part of the tests: timings are not assertions.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$ROOT/scripts/setup.sh"
"$ROOT/scripts/build.sh" build >/dev/null
MODEL="$ROOT/.cache/models/SmolLM2-135M-Instruct.Q4_1.gguf"
mkdir -p "$ROOT/out"
"$ROOT/build/bin/mcc" compile -q "$MODEL" -o "$ROOT/out/smollm"
"$ROOT/.cache/venv/bin/python" "$ROOT/scripts/bench.py" "$ROOT/out/smollm" "$MODEL" "$@"
