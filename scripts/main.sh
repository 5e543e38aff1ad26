#!/usr/bin/env bash
# The main job on a fresh machine: set up, build, compile the default model
# (SmolLM2-135M-Instruct Q4_1) into one executable, and ask it a question.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$ROOT/scripts/setup.sh"
"$ROOT/scripts/build.sh" build >/dev/null
mkdir -p "$ROOT/out"
"$ROOT/build/bin/mcc" compile "$ROOT/.cache/models/SmolLM2-135M-Instruct.Q4_1.gguf" -o "$ROOT/out/smollm"
echo "\$ out/smollm -p \"${PROMPT:=What is machine learning? Answer in two sentences.}\""
"$ROOT/out/smollm" -p "$PROMPT" -n 128 --temp 0
