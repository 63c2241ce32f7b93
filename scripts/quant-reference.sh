#!/usr/bin/env bash
# Regenerates tests/fixtures/quant_reference.json from ggml's own reference quantizers
# (ggml/src/ggml-quants.c of the llama.cpp that llama-cpp-python 0.3.36 vendors), so that
# src/quant/blocks.rs is checked bit for bit against the code llama-quantize runs.
#
# LLAMA_CPP_DIR: a llama.cpp source tree; without it the llama-cpp-python sdist is downloaded.
# -ffp-contract=off: ggml-base is built without FMA, and no fused multiply-add may change a
# rounding here either.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
if [ -z "${LLAMA_CPP_DIR:-}" ]; then
  python3 -m pip download --quiet --no-deps --no-binary :all: llama-cpp-python==0.3.36 -d "$WORK" >&2
  tar -xzf "$WORK"/llama_cpp_python-0.3.36.tar.gz -C "$WORK"
  LLAMA_CPP_DIR="$WORK/llama_cpp_python-0.3.36/vendor/llama.cpp"
fi
G="$LLAMA_CPP_DIR/ggml"
cc -O2 -ffp-contract=off -I"$G/include" -I"$G/src" -o "$WORK/quant_reference" \
  "$ROOT/scripts/quant_reference/main.c" "$G/src/ggml-quants.c" -lm
"$WORK/quant_reference" > "$ROOT/tests/fixtures/quant_reference.json"
echo "wrote tests/fixtures/quant_reference.json" >&2
