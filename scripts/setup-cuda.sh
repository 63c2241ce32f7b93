#!/usr/bin/env bash
# Installs the CUDA 13.0 toolkit pieces that `cargo build --features cuda` needs, from NVIDIA's
# PyPI wheels (no root, no GPU needed), into one CUDA_HOME-shaped folder, and prints the
# environment to build with. Usage: eval "$(scripts/setup-cuda.sh)"
#
# What the build needs and why:
# - nvcc, ptxas, cicc (nvvm), the CUDA and CCCL headers: candle compiles its kernels at build time;
# - libcublas, libcublasLt, libcurand, libnvrtc, libcudart: candle links them (dynamically);
# - libcuda (the driver): it comes with the GPU's driver, never with the toolkit, so the
#   linker gets a stub with the driver's symbols (as the toolkit's own lib64/stubs does) and
#   the real one is found at run time.
#
# Environment: CUDA_HOME (default target/cuda-13.0), CUDA_WHEELS (download cache, default
# ~/.cache/opensoc/cuda-wheels).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
cuda_home=${CUDA_HOME:-$root/target/cuda-13.0}
wheels=${CUDA_WHEELS:-$HOME/.cache/opensoc/cuda-wheels}

# Versions of the CUDA 13.0 release (driver 580 and later runs them).
pkgs=(
  nvidia-cuda-nvcc==13.0.88
  nvidia-nvvm==13.0.88
  nvidia-cuda-crt==13.0.88
  nvidia-cuda-cccl==13.0.85
  nvidia-cuda-runtime==13.0.96
  nvidia-cuda-nvrtc==13.0.88
  nvidia-curand==10.4.0.35
  nvidia-cublas==13.0.2.14
)

if [ ! -x "$cuda_home/bin/nvcc" ] || [ ! -e "$cuda_home/lib64/libcuda.so" ]; then
  mkdir -p "$wheels"
  echo "setup-cuda: downloading ${#pkgs[@]} wheels into $wheels" >&2
  # PyPI downloads of a gigabyte break off now and then (a CI run failed here once); pip keeps
  # what it finished, so a retry fetches only the rest.
  for try in 1 2 3; do
    if python3 -m pip download -q --no-deps --only-binary=:all: -d "$wheels" \
      --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
      --platform manylinux2014_x86_64 --platform manylinux_2_12_x86_64 \
      --platform manylinux2010_x86_64 "${pkgs[@]}" >&2; then
      break
    fi
    [ "$try" = 3 ] && { echo "error: setup-cuda: pip could not download the wheels (3 tries)" >&2; exit 1; }
    echo "setup-cuda: download failed (try $try of 3), $(df -h "$wheels" | tail -1 | awk '{print $4}') free; retrying" >&2
    sleep 10
  done
  rm -rf "$cuda_home"
  mkdir -p "$cuda_home"
  # Unpacked beside the toolkit's folder, on its file system, so that files are linked into
  # place rather than copied.
  unpack=$(mktemp -d "$cuda_home.unpack.XXXXXX")
  trap 'rm -rf "$unpack"' EXIT
  # The wheels put everything under nvidia/cu13/{bin,include,lib,nvvm}; each is unpacked and
  # moved into place at once, so the disk never holds a second copy of the toolkit.
  for p in "${pkgs[@]}"; do
    name=${p%%==*}
    ver=${p##*==}
    whl=$(ls "$wheels"/"${name//-/_}"-"$ver"-*.whl)
    python3 -m zipfile -e "$whl" "$unpack/w" >&2
    cp -al "$unpack"/w/nvidia/cu13/. "$cuda_home"/
    rm -rf "$unpack/w"
  done
  # A CI machine is thrown away after the run: the gigabyte of wheels only costs disk there.
  [ "${CI:-}" = true ] && rm -rf "$wheels"
  chmod +x "$cuda_home"/bin/* "$cuda_home"/nvvm/bin/* 2>/dev/null || true
  mkdir -p "$cuda_home/lib64"
  # The linker looks for the unversioned names.
  for so in "$cuda_home"/lib/lib*.so.*; do
    base=$(basename "$so")
    ln -sf "../lib/$base" "$cuda_home/lib64/$base"
    ln -sf "../lib/$base" "$cuda_home/lib64/${base%%.so.*}.so"
  done
  # The driver stub: every cu* entry point of cudarc's driver bindings as an empty function,
  # under the driver's soname so that the binary asks for the real libcuda.so.1 at run time.
  # (`|| true`: with pipefail, a failed `ls` would end the script before the fetch below.)
  bindings=$({ ls -d "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/cudarc-*/src/driver/sys 2>/dev/null || true; } | sort -V | tail -1)
  if [ -z "$bindings" ]; then
    cargo fetch -q
    bindings=$(ls -d "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/cudarc-*/src/driver/sys | sort -V | tail -1)
  fi
  grep -rhoE '\bfn cu[A-Za-z0-9_]+\(' "$bindings" | sort -u |
    sed -E 's/fn (cu[A-Za-z0-9_]+)\(/void \1(void) {}/' > "$unpack/libcuda_stub.c"
  gcc -shared -fPIC -Wl,-soname,libcuda.so.1 -o "$cuda_home/lib64/libcuda.so" "$unpack/libcuda_stub.c"
  echo "setup-cuda: CUDA 13.0 toolkit in $cuda_home ($(grep -c . "$unpack/libcuda_stub.c") driver symbols stubbed)" >&2
fi

"$cuda_home/bin/nvcc" --version | tail -2 >&2
cat <<EOF
export CUDA_HOME="$cuda_home"
export PATH="$cuda_home/bin:\$PATH"
export LIBRARY_PATH="$cuda_home/lib64\${LIBRARY_PATH:+:\$LIBRARY_PATH}"
EOF
