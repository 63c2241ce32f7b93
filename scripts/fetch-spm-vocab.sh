#!/usr/bin/env bash
# Puts llama.cpp's Llama SentencePiece test vocabulary (ggml-vocab-llama-spm.gguf), and a few
# more of llama.cpp's vocabulary-only test files, into $OPENSOC_HOME/vocab/ for
# tests/tokenizer_parity.rs. The files belong to llama.cpp (MIT) and are not committed here;
# they are taken from the llama-cpp-python 0.3.36 source distribution on PyPI, or from the
# sdist named by $OPENSOC_LLAMA_SDIST when that is set. Only these files are extracted.
set -euo pipefail

home="${OPENSOC_HOME:-$HOME/.cache/opensoc}"
dest="$home/vocab"
prefix="llama_cpp_python-0.3.36/vendor/llama.cpp/models"
# Keep in step with EXTRA_VOCABS in scripts/reference_tokens.py.
names=(llama-spm gpt-2 gpt-neox starcoder mpt phi-3 baichuan)

missing=()
for n in "${names[@]}"; do
    [[ -s "$dest/ggml-vocab-$n.gguf" ]] || missing+=("$n")
done
if [[ ${#missing[@]} -eq 0 ]]; then
    echo "all vocabularies already present in $dest"
    exit 0
fi

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

sdist="${OPENSOC_LLAMA_SDIST:-}"
if [[ -z "$sdist" ]]; then
    sdist="$tmp/llama_cpp_python-0.3.36.tar.gz"
    "$(dirname "$0")/fetch-pypi-sdist.py" llama-cpp-python 0.3.36 "$sdist"
fi
[[ -f "$sdist" ]] || { echo "sdist not found: $sdist" >&2; exit 1; }

members=()
for n in "${missing[@]}"; do
    members+=("$prefix/ggml-vocab-$n.gguf")
done
tar -xzf "$sdist" -C "$tmp" "${members[@]}"
mkdir -p "$dest"
for n in "${missing[@]}"; do
    name="ggml-vocab-$n.gguf"
    # Write under a temporary name and rename, so an interrupted run leaves no half file behind.
    cp "$tmp/$prefix/$name" "$dest/$name.part"
    mv "$dest/$name.part" "$dest/$name"
    echo "$dest/$name"
done
