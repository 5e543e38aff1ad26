#!/usr/bin/env bash
# The main job on a fresh machine: set up, build, and run mcc on the default
# model. Until `mcc compile` lands this is `mcc inspect`.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$ROOT/scripts/setup.sh"
"$ROOT/scripts/build.sh" build >/dev/null
"$ROOT/build/bin/mcc" inspect "$ROOT/.cache/models/SmolLM2-135M-Instruct.Q4_1.gguf"
