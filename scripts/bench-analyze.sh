#!/usr/bin/env bash
# Speed of the analyzer on soc_eval.json: runs `opensoc eval` RUNS times per mode and prints
# the medians of the per-entry p50 latency and of the whole eval's wall time, with the ratio to
# the paper's per-entry time (18 s on CPU, 1.8 s on a T4 GPU).
#
#   scripts/bench-analyze.sh [RUNS] [MODES]     defaults: 5 "fast"
#   ADAPTER=--no-adapter scripts/bench-analyze.sh   the untuned base model (default: shipped)
#
# Run it on a quiet machine: other builds or benchmarks on the same cores skew the figures.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS="${1:-5}"
MODES="${2:-fast}"
BIN="${BIN:-target/release/opensoc}"
ADAPTER="${ADAPTER:-}"
DATA="${OPENSOC_DATA:-../shared/data}/opensoc-ai/soc_eval.json"
[ -x "$BIN" ] || cargo build --release -p opensoc-edge
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
for mode in $MODES; do
  for i in $(seq "$RUNS"); do
    # shellcheck disable=SC2086
    "$BIN" eval $ADAPTER --data "$DATA" --mode "$mode" --json | tail -n 1 > "$out/$mode-$i.json"
  done
  python3 - "$mode" "$out"/"$mode"-*.json <<'PY'
import json, statistics, sys
mode, files = sys.argv[1], sys.argv[2:]
runs = [json.load(open(f)) for f in files]
p50 = statistics.median(r["latency_p50_ms"] for r in runs)
p90 = statistics.median(r["latency_p90_ms"] for r in runs)
total = statistics.median(r["total_s"] for r in runs)
n = runs[0]["n"]
print(f"{mode}: {len(runs)} runs over {n} entries")
print(f"  per-entry latency p50 {p50:.0f} ms, p90 {p90:.0f} ms (medians of runs)")
each = ", ".join("%.1f" % r["total_s"] for r in runs)
print(f"  whole eval {total:.1f} s (median; runs: {each})")
mean_entry = total / n
print(f"  mean per entry {mean_entry*1000:.0f} ms: {18/mean_entry:.0f}x faster than the paper's 18 s "
      f"on CPU, {1.8/mean_entry:.1f}x faster than its 1.8 s on a T4")
PY
done
