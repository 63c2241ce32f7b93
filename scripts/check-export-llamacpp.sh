#!/usr/bin/env bash
# Checks the merged export against opensoc's unmerged adapter: exports the adapter merged into
# the base model (f16 and q8_0), runs llama.cpp (llama-cpp-python, scripts/setup-peer.sh) greedy
# on the first N entries of soc_eval.json from the very prompt tokens opensoc fed, and compares
# the generated tokens with opensoc's own greedy output (free mode, adapter unmerged).
#
#   scripts/check-export-llamacpp.sh [ADAPTER_DIR] [N]    defaults: data/adapter 10
set -euo pipefail
cd "$(dirname "$0")/.."
ADAPTER="${1:-data/adapter}"
N="${2:-10}"
DATA="${OPENSOC_DATA:-../shared/data}/opensoc-ai/soc_eval.json"
VENV="$(scripts/setup-peer.sh)"
cargo build --release -p opensoc-edge -p opensoc-trainer >&2
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
target/release/opensoc eval --adapter "$ADAPTER" --data "$DATA" --limit "$N" --mode free \
  --token-ids --predictions "$work/opensoc.jsonl" --json > /dev/null
status=0
for quant in f16 q8_0; do
  target/release/opensoc-train export --adapter "$ADAPTER" --quant "$quant" \
    --out "$work/merged-$quant.gguf" >&2
  "$VENV/bin/python" - "$work/merged-$quant.gguf" "$work/opensoc.jsonl" "$quant" <<'PY' || status=1
import json, sys
from llama_cpp import Llama
path, preds, quant = sys.argv[1:]
llm = Llama(model_path=path, n_ctx=4096, n_threads=2, n_threads_batch=2, verbose=False)
same = 0
rows = [json.loads(l) for l in open(preds)]
for p in rows:
    prompt, ours = p["token_ids"]["prompt"], p["token_ids"]["output"]
    llm.reset()
    theirs = []
    for tok in llm.generate(prompt, top_k=1, top_p=1.0, min_p=0.0, temp=0.0, repeat_penalty=1.0):
        if tok == llm.token_eos() or len(theirs) >= len(ours):
            if tok == llm.token_eos():
                theirs.append(tok)
            break
        theirs.append(tok)
    n = min(len(ours), len(theirs))
    first = next((i for i in range(n) if ours[i] != theirs[i]), None)
    if first is None and len(ours) == len(theirs):
        same += 1
        print(f"{quant} entry {p['index']}: identical ({len(ours)} tokens)")
    else:
        at = first if first is not None else n
        print(f"{quant} entry {p['index']}: first difference at token {at} of {len(ours)}")
print(f"{quant}: {same}/{len(rows)} greedy outputs identical to opensoc's unmerged adapter")
sys.exit(0 if same == len(rows) else 1)
PY
done
exit $status
