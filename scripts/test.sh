#!/usr/bin/env bash
# The project's test command: fetches what the tests read (the default model, llama.cpp's
# vocabulary test files) into $OPENSOC_HOME, runs every test of the workspace and a small
# scan-level suite, then checks that the analyzer's verdicts are valid on a sample of the seed's
# prompts (all 500: scripts/validate-seed.sh with no argument).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build -p opensoc-edge
target/debug/opensoc model fetch
scripts/fetch-spm-vocab.sh
cargo test --workspace "$@"
# A small scan-level suite on the real model: held-out services of fail2ban and the Core Rule
# Set, and attack windows carrying prompt injections; fails below the real-service goals
# (README, "Real-service suites"): 90% of attackers flagged, 3% of benign windows at most.
cargo build -p opensoc-trainer
suite=$(mktemp -d)
trap 'rm -rf "$suite"' EXIT
target/debug/opensoc-train suites --out "$suite" >/dev/null
target/debug/opensoc eval --suite "$suite" --split heldout \
  --case fail2ban/sendmail-auth --case fail2ban/roundcube-auth --case fail2ban/named-refused \
  --case crs/933211 --case adversarial/ssh-brute/user --case adversarial/web-login-brute/agent \
  --case adversarial/sqli/url --case adversarial/exploit/agent \
  --min-recall 0.9 --max-false-positives 0.03
BIN=target/debug/opensoc scripts/validate-seed.sh 25
