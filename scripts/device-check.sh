#!/usr/bin/env bash
# The GPU check for a lent GPU machine (x86-64, NVIDIA driver, no Rust, no network): parity of
# CUDA and wgpu (Vulkan) with the CPU on the seed eval set, prefill/decode tokens per second on
# all three, and the trainer's recipe on CUDA.
#
#   scripts/device-check.sh stage [DIR]      here: build with CUDA, pack DIR (default .device)
#                                            into parts p1, p2, ... that each fit one transfer
#   scripts/device-check.sh collect PART     there: keep one carried part in $KEEP
#   scripts/device-check.sh probe            there, after the first part: do the binaries load?
#   scripts/device-check.sh run [N]          there: assemble, then measure (first N eval
#                                            entries; default all); results into $OUT
#
# The model (98 MB) and the binaries do not fit one 64 MiB transfer, so `stage` cuts them into
# parts, each carried by one call to a machine that stays warm between calls; `collect` keeps
# them outside the working tree, and `run` checks every piece against the manifest.
# Environment: KEEP (default /var/tmp/opensoc-device), OUT (default ./device-out),
# TRAIN_SECONDS (default 300: the training run stops there, with its checkpoint), BACKEND
# (default cuda; candle rehearses the whole script on a machine without a GPU), NO_BUILD
# (stage the binaries already built).
set -euo pipefail
cd "$(dirname "$0")/.."
KEEP=${KEEP:-/var/tmp/opensoc-device}
PART_MB=${PART_MB:-44}

stage() {
  local dir=${1:-.device}
  grep -qxF "/$dir/" .git/info/exclude 2>/dev/null || echo "/$dir/" >> .git/info/exclude
  [ -n "${NO_BUILD:-}" ] || CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target/cuda} scripts/build-cuda.sh >&2
  local bin=${CARGO_TARGET_DIR:-target/cuda}/release
  local model=${OPENSOC_MODEL:-${OPENSOC_HOME:-$HOME/.cache/opensoc}/models/SmolLM2-135M-Instruct.Q4_1.gguf}
  [ -f "$model" ] || { echo "error: no model at $model (run: opensoc model fetch)" >&2; exit 2; }
  local data=${OPENSOC_DATA:-../shared/data}/opensoc-ai
  rm -rf "$dir" && mkdir -p "$dir/all"
  strip -o "$dir/all/opensoc" "$bin/opensoc"
  strip -o "$dir/all/opensoc-train" "$bin/opensoc-train"
  cp "$model" "$dir/all/model.gguf"
  cp "$data/soc_eval.json" "$data/soc_train.json" "$dir/all/"
  cp scripts/device-check.sh "$dir/all/"
  # Vulkan's loader for --backend wgpu: the lent machine has NVIDIA's driver, maybe no loader.
  (cd "$dir/all" && apt-get download -qq libvulkan1 && mv libvulkan1_*.deb libvulkan1.deb)
  (cd "$dir/all" && xz -T2 -6 opensoc opensoc-train && sha256sum -- * > ../MANIFEST)
  # One stream of every file, binaries first (so the first call can probe them), cut into
  # parts of PART_MB.
  (cd "$dir/all" && tar cf - opensoc.xz opensoc-train.xz soc_eval.json soc_train.json \
    device-check.sh libvulkan1.deb model.gguf) | split -b "${PART_MB}M" -d -a 1 - "$dir/part"
  local n=0
  for p in "$dir"/part*; do
    n=$((n + 1))
    mkdir -p "$dir/p$n"
    mv "$p" "$dir/p$n/"
  done
  cp "$dir/MANIFEST" "$dir/p$n/"
  rm -rf "$dir/all"
  echo "staged $n parts in $dir (carry one per call, in order):" >&2
  for i in $(seq 1 "$n"); do
    local cmd="scripts/device-check.sh collect $dir/p$i"
    [ "$i" = 1 ] && cmd="$cmd && scripts/device-check.sh probe"
    [ "$i" = "$n" ] && cmd="$cmd && scripts/device-check.sh run"
    echo "  call $i: carry [\"$dir/p$i\"], command: $cmd" >&2
  done
}

collect() {
  mkdir -p "$KEEP"
  cp -a "$1"/. "$KEEP"/
  echo "kept $(ls "$1" | tr '\n' ' ')in $KEEP; $(ls "$KEEP"/part* | wc -l) part(s) so far"
}

# The libraries the binaries need, from wherever the host keeps them (PyPI's NVIDIA wheels
# under PyTorch on the lent machine); the driver's libcuda.so.1 is on the system path.
find_cuda_libs() {
  local libs=""
  for l in libcublas.so.13 libcublasLt.so.13 libcurand.so.10 libcudart.so.13 libnvrtc.so.13; do
    local f
    f=$(find /opt /usr /lib /lib64 -name "$l" 2>/dev/null | head -1 || true)
    [ -n "$f" ] && libs="$libs:$(dirname "$f")"
  done
  export LD_LIBRARY_PATH="${libs#:}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
}

# After the first part: do the binaries load here (libraries, driver)?
probe() {
  set +e
  local work=$KEEP/probe
  rm -rf "$work" && mkdir -p "$work"
  # The first part holds the binaries whole; the member cut at its end is expected.
  tar xf "$KEEP/part0" -C "$work" opensoc.xz opensoc-train.xz 2>/dev/null
  xz -d "$work"/*.xz && chmod +x "$work"/opensoc*
  find_cuda_libs
  nvidia-smi --query-gpu=name,driver_version,compute_cap,memory.total --format=csv
  ldd "$work/opensoc" | grep -E "cuda|cublas|curand|nvrtc|not found"
  "$work/opensoc" --version && "$work/opensoc-train" --version
}

run() {
  # Every measurement is attempted even when an earlier one fails: device time is scarce.
  set +e
  local limit=${1:-}
  # Everything is written to $work/out and comes back as one archive (the tool returns at most
  # eight files).
  local work=$KEEP/work
  local out=$work/out
  rm -rf "$work" && mkdir -p "$work"
  cat "$KEEP"/part* | tar xf - -C "$work"
  mkdir -p "$out"
  (cd "$work" && sha256sum -c --quiet "$KEEP/MANIFEST") || { echo "error: a part is missing or damaged" >&2; exit 2; }
  xz -d "$work/opensoc.xz" "$work/opensoc-train.xz"
  chmod +x "$work/opensoc" "$work/opensoc-train"
  find_cuda_libs
  export OPENSOC_MODEL=$work/model.gguf OPENSOC_HOME=$work/home
  local os="$work/opensoc" tr="$work/opensoc-train"
  {
    nvidia-smi --query-gpu=name,driver_version,compute_cap,memory.total --format=csv
    nproc
    ldd "$os" | grep -E "cuda|cublas|curand|nvrtc|not found"
  } 2>&1 | tee "$out/machine.txt"
  # Vulkan: the carried loader, and NVIDIA's driver manifest where the loader would not look.
  dpkg -x "$work/libvulkan1.deb" / && ldconfig
  if ! ls /usr/share/vulkan/icd.d/*.json /etc/vulkan/icd.d/*.json >/dev/null 2>&1 &&
    [ -f /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json ]; then
    export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
  fi
  local lim=()
  [ -n "$limit" ] && lim=(--limit "$limit")
  local backend=${BACKEND:-cuda}
  echo "== eval: cpu vs $backend vs wgpu" >&2
  "$os" eval --data "$work/soc_eval.json" "${lim[@]}" --backend cpu --backend "$backend" \
    --backend wgpu --predictions "$out/eval.jsonl" --json | tail -1 > "$out/eval.json"
  echo "== bench" >&2
  for b in cpu "$backend" wgpu; do
    "$os" bench --backend "$b" --runs 5 --json | tail -1 > "$out/bench-$b.json"
    cat "$out/bench-$b.json"
  done
  echo "== train on $backend (the recipe, up to ${TRAIN_SECONDS:-300} s)" >&2
  local t0=$SECONDS
  timeout -s INT "${TRAIN_SECONDS:-300}" "$tr" train --device "$backend" --data "$work/soc_train.json" \
    --out "$work/train" --eval-data "$work/soc_eval.json" > "$out/train.json" 2> "$out/train.log" || true
  echo "train wall $((SECONDS - t0)) s" | tee -a "$out/train.log"
  cp "$work/train/loss.jsonl" "$out/" 2>/dev/null || true
  for f in adapter_model.safetensors adapter_config.json; do
    cp "$work/train/$f" "$out/" 2>/dev/null || true
  done
  tail -3 "$out/train.log"
  cat "$out/eval.json"
  local dest=${OUT:-.}
  mkdir -p "$dest"
  tar czf "$dest/device-results.tar.gz" -C "$work" out
  echo "results: $dest/device-results.tar.gz"
}

case "${1:-}" in
  stage) shift; stage "$@" ;;
  collect) shift; collect "$@" ;;
  probe) shift; probe "$@" ;;
  run) shift; run "$@" ;;
  *) sed -n 2,20p "$0"; exit 2 ;;
esac
