#!/usr/bin/env bash
# Scores the analyzer on the seed's held-out set and on every held-out file that
# `opensoc-train data --out DIR` wrote, and prints one Markdown table.
#
#   scripts/eval-splits.sh DIR [ADAPTER_FLAGS...]
#   e.g. scripts/eval-splits.sh /work/runs/data1 --adapter /work/runs/mix1
#
# BIN (default target/release/opensoc) is the binary; OUT (default DIR/eval) receives each
# file's predictions, report and metrics.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:?usage: scripts/eval-splits.sh DIR [ADAPTER_FLAGS...]}
shift
bin=${BIN:-target/release/opensoc}
out=${OUT:-$dir/eval}
data=${OPENSOC_DATA:-../shared/data}
mkdir -p "$out"
files=("$data/opensoc-ai/soc_eval.json")
for f in "$dir"/heldout_*.json; do
  case "$f" in *.secondary.json) continue ;; esac
  files+=("$f")
done
for f in "${files[@]}"; do
  name=$(basename "$f" .json)
  "$bin" eval "$@" --data "$f" --predictions "$out/$name.jsonl" --json | tail -n 1 > "$out/$name.metrics.json"
done
python3 - "$out" "${files[@]}" <<'PY'
import json, os, sys
out, files = sys.argv[1], sys.argv[2:]
def pct(x):
    return "–" if x is None else f"{100 * x:.1f}%"
print("| split | n | strict | category | severity | technique | false positives | detection recall | valid |")
print("|---|---|---|---|---|---|---|---|---|")
for f in files:
    name = os.path.basename(f)[:-5]
    m = json.load(open(os.path.join(out, name + ".metrics.json")))
    m = m.get("metrics", m)
    print(f"| {name} | {m['n']} | {pct(m['strict_threat_accuracy'])} | {pct(m['category_accuracy'])} | "
          f"{pct(m['severity_accuracy'])} | {pct(m['technique_accuracy'])} | {pct(m.get('false_positive_rate'))} | "
          f"{pct(m.get('detection_recall'))} | {pct(m['valid_rate'])} |")
PY
