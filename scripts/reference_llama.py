#!/usr/bin/env python3
"""Reference outputs of llama.cpp for opensoc's forward-pass parity test.

Runs llama.cpp (PyPI package llama-cpp-python, built from source; see scripts/setup-peer.sh) on
the default model with greedy decoding and writes tests/fixtures/llama_parity.json:
for each of 30 prompts, the prompt's token ids, llama.cpp's 32 greedy tokens, and the
last-position logits of the prompt at a fixed set of vocabulary ids (the top 64 plus 192 ids
spread over the vocabulary), so the test can measure the largest logit difference.

Usage: python3 scripts/reference_llama.py [MODEL.gguf] [OUT.json]
"""
import json
import os
import sys

import numpy as np
from llama_cpp import Llama

HOME = os.environ.get("OPENSOC_HOME", os.path.expanduser("~/.cache/opensoc"))
MODEL = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HOME, "models", "SmolLM2-135M-Instruct.Q4_1.gguf")
OUT = sys.argv[2] if len(sys.argv) > 2 else os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures", "llama_parity.json")
GEN = 32

HEADER = ("### Instruction:\nAnalyze this log and identify security threats. Return: threat type, "
          "MITRE technique ID, severity, and recommendation.\n\n### Input:\n")
LOGS = [
    "Failed password for invalid user admin from 203.0.113.7 port 51122 ssh2",
    "GET /index.php?id=1%27%20UNION%20SELECT%20username,password%20FROM%20users-- HTTP/1.1 200 5123",
    "sudo: alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/bin/cat /etc/shadow",
    "EventID 4625: An account failed to log on. Account Name: Administrator Source Network Address: 10.0.0.45",
    "198.51.100.23 - - [12/Mar/2025:10:14:02 +0000] \"GET /../../../../etc/passwd HTTP/1.1\" 404 196",
    "kernel: [UFW BLOCK] IN=eth0 OUT= SRC=192.0.2.10 DST=10.0.0.5 PROTO=TCP SPT=44321 DPT=23",
    "POST /search HTTP/1.1 q=<script>alert(document.cookie)</script>",
    "powershell.exe -nop -w hidden -enc SQBFAFgAIAAoAE4AZQB3AC0ATwBiAGoAZQBjAHQA",
    "[1200 requests in 10 s from 203.0.113.99] GET / HTTP/1.1 503",
    "CRON[2231]: (root) CMD (run-parts /etc/cron.hourly)",
]
OTHER = [
    "The capital of France is",
    "def fibonacci(n):\n    ",
    "<|im_start|>user\nWhat is a firewall?<|im_end|>\n<|im_start|>assistant\n",
    "Once upon a time, in a small village,",
    "1, 2, 3, 5, 8, 13,",
    "Translate to French: good morning",
    "SELECT * FROM users WHERE",
    "Les journaux du serveur montrent",
    "The three primary colors are",
    "In computer security, a zero-day vulnerability is",
]


def prompts():
    out = [HEADER + log + "\n\n### Response:\n" for log in LOGS]
    out += LOGS
    out += OTHER
    return out


def main():
    llm = Llama(model_path=MODEL, n_ctx=2048, n_batch=512, n_threads=2, n_threads_batch=2,
                flash_attn=False, logits_all=True, verbose=False, seed=0)
    vocab = llm.n_vocab()
    spread = [int(i) for i in np.linspace(0, vocab - 1, 192)]
    cases = []
    for text in prompts():
        special = text.startswith("<|im_start|>")
        ids = llm.tokenize(text.encode(), add_bos=False, special=special)
        llm.reset()
        llm.eval(ids)
        logits = np.array(llm.scores[llm.n_tokens - 1], dtype=np.float64)
        top = [int(i) for i in np.argsort(-logits)[:64]]
        probe = sorted(set(top + spread))
        gen = []
        steps = []
        cur = logits
        for _ in range(GEN):
            nxt = int(np.argmax(cur))
            gen.append(nxt)
            top2 = np.sort(cur)[-2:]
            steps.append({"top": [int(i) for i in np.argsort(-cur)[:4]],
                          "logits": [round(float(cur[i]), 5) for i in np.argsort(-cur)[:4]],
                          "margin": round(float(top2[1] - top2[0]), 5)})
            llm.eval([nxt])
            cur = np.array(llm.scores[llm.n_tokens - 1])
        cases.append({
            "text": text,
            "special": special,
            "prompt": ids,
            "greedy": gen,
            "steps": steps,
            "probe_ids": probe,
            "probe_logits": [round(float(logits[i]), 5) for i in probe],
        })
    with open(OUT, "w") as f:
        json.dump({"model_sha256_prefix": "b179c9523d0e", "generated": GEN, "cases": cases}, f)
    print(f"wrote {len(cases)} cases to {OUT}")


if __name__ == "__main__":
    main()
