#!/usr/bin/env bash
# Shows that every verdict is valid: runs `opensoc eval` over the seed's 500 prompts
# (soc_train.json and soc_eval.json) in the constrained modes with the untuned model (--no-adapter:
# the schema, not the fine-tuning, must make every verdict valid) and fails
# unless the valid rate is 100% in each run.
#
#   scripts/validate-seed.sh            all 500 prompts, fast and full modes
#   scripts/validate-seed.sh 25         the first 25 of each file (what the test script runs)
#   MODES="fast" scripts/validate-seed.sh
#
# Needs a built `opensoc` (BIN, default target/release/opensoc) and the data in
# $OPENSOC_DATA (default ../shared/data).
set -euo pipefail
cd "$(dirname "$0")/.."
LIMIT="${1:-}"
BIN="${BIN:-target/release/opensoc}"
DATA="${OPENSOC_DATA:-../shared/data}/opensoc-ai"
MODES="${MODES:-fast full}"
[ -x "$BIN" ] || { echo "error: $BIN not built (cargo build --release -p opensoc-edge)" >&2; exit 2; }
limit_args=()
[ -n "$LIMIT" ] && limit_args=(--limit "$LIMIT")
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
status=0
for mode in $MODES; do
  for file in soc_train.json soc_eval.json; do
    "$BIN" eval --no-adapter --data "$DATA/$file" --mode "$mode" "${limit_args[@]}" \
      --predictions "$out/$mode-$file.jsonl" --json > "$out/metrics.json"
    python3 - "$mode" "$file" "$out/metrics.json" "$out/$mode-$file.jsonl" <<'PY' || status=1
import json, sys
mode, name, metrics, preds = sys.argv[1:]
m = json.loads(open(metrics).read().strip().splitlines()[-1])
bad = [json.loads(l)["index"] for l in open(preds) if not json.loads(l)["valid"]]
print(f"{mode:5} {name:16} {m['n']:4} entries  valid {m['valid_rate']*100:6.2f}%  "
      f"p50 {m['latency_p50_ms']} ms  {m['total_s']:.1f} s")
if bad or m["valid_rate"] != 1.0:
    print(f"  invalid entries: {bad}", file=sys.stderr)
    sys.exit(1)
PY
  done
done
exit $status
