#!/usr/bin/env bash
# The project's test command: fetches what the tests read (the default model, llama.cpp's
# vocabulary test files) into $OPENSOC_HOME, runs every test of the workspace, then checks that
# the analyzer's verdicts are valid on a sample of the seed's prompts (all 500:
# scripts/validate-seed.sh with no argument).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build -p opensoc-edge
target/debug/opensoc model fetch
scripts/fetch-spm-vocab.sh
cargo test --workspace "$@"
BIN=target/debug/opensoc scripts/validate-seed.sh 25
