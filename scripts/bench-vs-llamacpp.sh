#!/usr/bin/env bash
# opensoc and llama.cpp side by side: same GGUF, same thread count, the same prompt tokens
# (data/bench_prompt.txt cut to N tokens), alternating rounds; in each round each side loads
# the model, makes one unmeasured pass, then takes the median of RUNS measured passes. Prints
# each round, the medians over rounds and the ratios opensoc / llama.cpp.
#
# Usage: scripts/bench-vs-llamacpp.sh [ROUNDS] [PROMPT_TOKENS] [GEN_TOKENS] [RUNS]
# Environment: OPENSOC_MODEL (default: the fetched default model), THREADS (default 2),
# OPENSOC_PEER_VENV (llama-cpp-python venv; built by scripts/setup-peer.sh when missing).
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-5}
N=${2:-300}
GEN=${3:-64}
RUNS=${4:-3}
THREADS=${THREADS:-2}
cargo build --release -q -p opensoc-edge
BIN=target/release/opensoc
MODEL=${OPENSOC_MODEL:-$($BIN model fetch)}
VENV=$(scripts/setup-peer.sh)
export RAYON_NUM_THREADS=$THREADS
OUT=$(mktemp -d)
for i in $(seq "$ROUNDS"); do
  $BIN bench --model "$MODEL" --json --runs "$RUNS" --prompt-tokens "$N" --gen-tokens "$GEN" >>"$OUT/opensoc.jsonl"
  "$VENV/bin/python" - "$MODEL" "$N" "$GEN" "$THREADS" "$RUNS" >>"$OUT/llama.jsonl" <<'PY'
import json, statistics, sys, time
from llama_cpp import Llama
model, n, gen, threads, runs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
text = open("data/bench_prompt.txt").read()
t0 = time.perf_counter()
llm = Llama(model_path=model, n_ctx=2048, n_batch=512, n_threads=threads, n_threads_batch=threads,
            flash_attn=False, verbose=False)
load = time.perf_counter() - t0
once = llm.tokenize(text.encode(), add_bos=False, special=False)
ids = (once * (n // len(once) + 1))[:n]
# One unmeasured pass first, as opensoc's bench does.
llm.eval(ids)
pre, dec = [], []
for _ in range(runs):
    llm.reset()
    t0 = time.perf_counter(); llm.eval(ids); pre.append(n / (time.perf_counter() - t0))
    # Decode cost does not depend on which token is fed, and llama-cpp-python only keeps
    # logits with logits_all=True (which would slow the prompt), so the steps feed a fixed token.
    tok = ids[-1]
    t0 = time.perf_counter()
    for _ in range(gen):
        llm.eval([tok])
    dec.append(gen / (time.perf_counter() - t0))
print(json.dumps({"backend": "llama.cpp", "prompt_tokens": n, "gen_tokens": gen,
                  "prefill_tok_s": statistics.median(pre), "decode_tok_s": statistics.median(dec),
                  "load_s": load}))
PY
done
python3 - "$OUT" <<'PY'
import json, statistics, sys, os
d = sys.argv[1]
rows = {k: [json.loads(l) for l in open(os.path.join(d, k + ".jsonl"))] for k in ("opensoc", "llama")}
for k, rs in rows.items():
    for r in rs:
        print(f"{k:8} prefill {r['prefill_tok_s']:8.1f} tok/s  decode {r['decode_tok_s']:7.1f} tok/s  load {r['load_s']:.3f} s")
med = {k: {m: statistics.median(r[m] for r in rs) for m in ("prefill_tok_s", "decode_tok_s", "load_s")} for k, rs in rows.items()}
print()
print(f"{'median':10} {'opensoc':>10} {'llama.cpp':>10} {'ratio':>7}")
for m in ("prefill_tok_s", "decode_tok_s", "load_s"):
    o, l = med["opensoc"][m], med["llama"][m]
    print(f"{m:14} {o:10.3f} {l:10.3f} {o / l:7.2f}")
rss = [r.get("peak_rss_mb") for r in rows["opensoc"] if r.get("peak_rss_mb")]
if rss:
    print(f"opensoc peak RSS (median): {statistics.median(rss):.0f} MB")
PY
