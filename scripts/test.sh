#!/usr/bin/env bash
# The project's test command: fetches what the tests read (the default model, llama.cpp's
# vocabulary test files) into $OPENSOC_HOME, then runs every test of the workspace.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build -p opensoc-edge
target/debug/opensoc model fetch
scripts/fetch-spm-vocab.sh
cargo test --workspace "$@"
