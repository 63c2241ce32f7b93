#!/usr/bin/env bash
# Builds `opensoc` and `opensoc-train` with the CUDA backend (`--backend cuda`,
# `--device cuda`) into target/cuda/release/, on a machine with or without a GPU.
#
# The toolkit comes from scripts/setup-cuda.sh (NVIDIA's PyPI wheels). At run time the
# binaries need the GPU driver's libcuda.so.1 from the host, and libcublas, libcublasLt,
# libcurand and libnvrtc (CUDA 13) from the host's library path or from beside the binary
# (`opensoc` looks in its own folder first: edge/build.rs): `ldd target/cuda/release/opensoc` lists them,
# and the loader names the first one it cannot find.
#
# Environment: CUDA_COMPUTE_CAP (default 90, the H100/H200; 80 for the A100 and 86/89 for
# RTX 30/40 cards: candle compiles some kernels for exactly one architecture).
# PROFILE (default release; CI uses dev, sharing the test build's target folder). CHECK=1
# runs `cargo check` instead: candle's kernels still compile (its build script runs nvcc), but
# no code is generated or linked (CI's check of the feature).
# Arguments are passed to cargo (e.g. --timings).
set -euo pipefail
cd "$(dirname "$0")/.."
# An assignment first: `eval "$(…)"` alone would hide a failed set-up (a download that broke
# off) and the build would fail later with a misleading "nvcc not found".
cuda_env=$(scripts/setup-cuda.sh)
eval "$cuda_env"
export CUDA_COMPUTE_CAP=${CUDA_COMPUTE_CAP:-90}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target/cuda}
profile=${PROFILE:-release}
if [ "${CHECK:-}" = 1 ]; then
  # The core library holds every line behind `feature = "cuda"` (the agent and the trainer
  # only pass the feature on), so checking it alone still compiles candle's kernels and
  # type-checks all the CUDA code, without a check of the other crates' dependencies.
  cargo check --profile "$profile" --features cuda -p opensoc "$@"
  echo "checked the cuda feature (compute capability $CUDA_COMPUTE_CAP)"
  exit 0
fi
cargo build --profile "$profile" --features cuda -p opensoc-edge -p opensoc-trainer "$@"
dir=$profile
[ "$profile" = dev ] && dir=debug
for b in opensoc opensoc-train; do
  f="$CARGO_TARGET_DIR/$dir/$b"
  echo "built $f ($(du -h "$f" | cut -f1), compute capability $CUDA_COMPUTE_CAP)"
done
