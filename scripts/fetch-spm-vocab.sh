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
    # The sdist is fetched as a plain file named by PyPI's JSON API and checked against the
    # sha256 listed there (`pip download` of an sdist would build its metadata, which means
    # installing cmake and a build backend first).
    sdist="$tmp/llama_cpp_python-0.3.36.tar.gz"
    python3 - "$sdist" <<'PY'
import hashlib, json, sys, time, urllib.parse, urllib.request
out = sys.argv[1]
index = "https://pypi.org/pypi/llama-cpp-python/json"
for attempt in range(3):
    try:
        with urllib.request.urlopen(index, timeout=60) as r:
            files = json.load(r)["releases"]["0.3.36"]
        f = next(f for f in files if f["packagetype"] == "sdist")
        h = hashlib.sha256()
        # Mirrors may answer with addresses relative to the index.
        url = urllib.parse.urljoin(index, f["url"])
        with urllib.request.urlopen(url, timeout=300) as r, open(out, "wb") as o:
            while chunk := r.read(1 << 20):
                h.update(chunk)
                o.write(chunk)
        if h.hexdigest() != f["digests"]["sha256"]:
            sys.exit(f"sha256 mismatch for {f['url']}")
        break
    except OSError as e:
        if attempt == 2:
            sys.exit(f"cannot download the llama-cpp-python sdist from PyPI: {e}")
        time.sleep(2 ** attempt)
PY
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
