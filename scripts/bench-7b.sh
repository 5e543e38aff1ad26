#!/usr/bin/env bash
# The 7B-scale run (not part of the tests): a random-weight GPTQ checkpoint
# with Qwen2.5-7B-Instruct's exact shapes (test/fixtures/make_7b_gptq.py,
# ~5.5 GB, cached in .cache/models), compiled and run, reporting
#   compile time and peak memory, executable size,
#   time to first token with a cold and a warm page cache, peak RSS,
#   decode tokens/s beside the limit weight bytes per token / bandwidth
#   (bandwidth measured by a small probe here).
# Usage: scripts/bench-7b.sh [--act-order]   (cold-cache figures need root)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$ROOT/scripts/setup.sh"
"$ROOT/scripts/build.sh" build >/dev/null
PY="$ROOT/.cache/venv/bin/python"
VARIANT=g128${1:+-actorder}
MODEL="$ROOT/.cache/models/qwen2.5-7b-shape-gptq-$VARIANT"
[ -f "$MODEL/model.safetensors" ] || "$PY" "$ROOT/test/fixtures/make_7b_gptq.py" "$MODEL" ${1:+--act-order}
OUT="$ROOT/out/qwen7b-$VARIANT"
mkdir -p "$ROOT/out"

measure() { /usr/bin/time -f "%e %M" "$@" 2>&1 >/dev/null | tail -n 1; }

read -r csec ckib < <(measure "$ROOT/build/bin/mcc" compile "$MODEL" -o "$OUT")
size=$(stat -c %s "$OUT")


cold="n/a (not root)"
if [ "$(id -u)" -eq 0 ]; then
  sync; echo 3 > /proc/sys/vm/drop_caches
  cold=$(measure "$OUT" -p hi -n 1 --temp 0 | awk '{print $1 " s"}')
fi
read -r wsec wkib < <(measure "$OUT" -p hi -n 1 --temp 0)
read -r nsec _ < <(measure "$OUT" -p hi -n 1 --temp 0 --no-verify)
bench=$("$OUT" bench -p 16 -n 16 --json)
field() { echo "$bench" | "$PY" -c "import json,sys; print(round(json.load(sys.stdin)['$1'], $2))"; }
cat <<EOF2
| what | measured |
|---|---|
| checkpoint | $(du -sh "$MODEL" | cut -f1) ($VARIANT) |
| compile time, peak RSS | ${csec} s, $((ckib / 1024)) MiB |
| executable size | $((size / 1048576)) MiB |
| start-up: load, map and verify every weight (bench) | $(field load_s 3) s |
| time to first token (\`-p hi -n 1\`, start to exit), cold cache | $cold |
| same, warm cache; its peak RSS | ${wsec} s, $((wkib / 1024)) MiB |
| same, warm cache, \`--no-verify\` | ${nsec} s |
| prefill (bench -p 16) | $(field pp_tok_s 2) tok/s |
| decode (bench -n 16), peak RSS | $(field tg_tok_s 2) tok/s, $(field peak_rss_mib 0) MiB |
| weight bytes per token | $(field weight_mib_per_token 0) MiB |
| read bandwidth (bench probe, same threads) | $(field bandwidth_gb_s 1) GB/s |
| decode limit at that bandwidth | $(field tg_limit_tok_s 2) tok/s ($(echo "$bench" | "$PY" -c "import json,sys; print(round(100 * json.load(sys.stdin)['tg_fraction_of_limit']))") % reached) |
EOF2
