#!/usr/bin/env bash
# Builds the llama.cpp peer (PyPI package llama-cpp-python, compiled from source) into a venv
# for the parity fixtures and the side-by-side benchmark. About 8 minutes on 2 cores.
# GGML_NATIVE=ON builds a binary that dies with "Illegal instruction" on these VMs, so the
# instruction sets are named one by one.
set -euo pipefail
VENV=${OPENSOC_PEER_VENV:-$HOME/.cache/opensoc/peer-venv}
if [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c "import llama_cpp" 2>/dev/null; then
  echo "$VENV"; exit 0
fi
python3 -m venv "$VENV"
CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON \
-DGGML_AVX512=ON -DGGML_AVX512_VNNI=ON -DGGML_AVX512_BF16=ON" \
  "$VENV/bin/pip" install --no-cache-dir llama-cpp-python==0.3.36 numpy >&2
echo "$VENV"
