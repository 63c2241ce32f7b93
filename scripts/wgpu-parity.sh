#!/usr/bin/env bash
# Parity of the wgpu backend with the CPU backend: `opensoc eval --backend cpu --backend wgpu`
# on the first N entries of the seed's eval set (default all 50), which prints both backends'
# metrics and their parity (identical fields, largest probe logit difference), then
# `opensoc parity` on the two predictions files, which fails (exit 1) when fewer than
# MIN_AGREEMENT of the entries (default 0.98, the goal) are identical on every structured field.
# NEAR_TIE (logits, default off) also counts as agreeing an entry that differs only where both
# backends' choices were that close to a tie (`opensoc parity --help`): CI checks 5 entries,
# where one flipped near-tie would fail the 98% that all 50 are held to.
#
#   scripts/wgpu-parity.sh [N]
#
# Needs a Vulkan driver (CI: Mesa's llvmpipe; mesa-vulkan-drivers, libvulkan1), the model in
# $OPENSOC_HOME (`opensoc model fetch`) and the data in $OPENSOC_DATA (default ../shared/data).
# OUT keeps the predictions and the report (default: a temporary directory). Measured on all 50
# entries with llvmpipe and the shipped adapter: 49 identical (98%), the other a severity near-tie
# on which the AVX2 kernels differ from wgpu, the AVX-512 VNNI kernels and candle alike (README,
# "Backend parity").
set -euo pipefail
cd "$(dirname "$0")/.."
N="${1:-50}"
DATA="${OPENSOC_DATA:-../shared/data}/opensoc-ai/soc_eval.json"
[ -f "$DATA" ] || { echo "error: no eval set at $DATA (set OPENSOC_DATA)" >&2; exit 2; }
# BIN names a binary already built (CI passes the test build's); otherwise it is built here.
if [ -z "${BIN:-}" ]; then
  BIN="${CARGO_TARGET_DIR:-target}/debug/opensoc"
  cargo build -q -p opensoc-edge
fi
if [ -n "${OUT:-}" ]; then
  mkdir -p "$OUT"
else
  OUT="$(mktemp -d)"
  trap 'rm -rf "$OUT"' EXIT
fi
start=$(date +%s)
# The CPU side runs the AVX2 kernels, which every x86-64-v3 CPU has, so that the reference
# does not depend on whether the CI machine has AVX-512.
OPENSOC_NO_AVX512=1 "$BIN" eval --data "$DATA" --limit "$N" --backend cpu --backend wgpu \
  --predictions "$OUT/cpu.jsonl"
echo "eval on cpu and wgpu: $N entries in $(($(date +%s) - start)) s"
"$BIN" parity "$OUT/cpu.jsonl" "$OUT/cpu.wgpu.jsonl" --min-agreement "${MIN_AGREEMENT:-0.98}" \
  ${NEAR_TIE:+--near-tie "$NEAR_TIE"}
