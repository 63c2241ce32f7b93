#!/usr/bin/env bash
# Cross-compiles the `opensoc` binary for 64-bit Raspberry Pi OS (aarch64-unknown-linux-gnu) in
# release mode and prints where it is and how big it is, stripped and not.
#
#   scripts/build-aarch64.sh                 the binary: target/aarch64-unknown-linux-gnu/release/opensoc
#   scripts/build-aarch64.sh --test [FILTER] also runs the core library's unit tests (those
#                                            matching FILTER) under qemu, on a Cortex-A72 (Pi 4:
#                                            NEON, no dotprod) and on qemu's `max` CPU (dotprod)
#
# As root on a Debian-like machine it installs what it needs (the cross C compiler for the
# bundled C code, SQLite and oniguruma, and qemu-user for --test); elsewhere it expects them.
# The stripped copy is written next to the binary as opensoc.stripped.
set -euo pipefail
cd "$(dirname "$0")/.."
TARGET=aarch64-unknown-linux-gnu
RUN_TESTS=false
TEST_FILTER=()
if [ "${1:-}" = "--test" ]; then
  RUN_TESTS=true
  [ -n "${2:-}" ] && TEST_FILTER=("$2")
fi

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null \
  && ! { command -v aarch64-linux-gnu-gcc && command -v qemu-aarch64; } >/dev/null; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
    gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user >/dev/null
fi
command -v aarch64-linux-gnu-gcc >/dev/null \
  || { echo "error: aarch64-linux-gnu-gcc missing (apt-get install gcc-aarch64-linux-gnu libc6-dev-arm64-cross)" >&2; exit 2; }
if command -v rustup >/dev/null && ! rustup target list --installed | grep -qx "$TARGET"; then
  rustup target add "$TARGET"
fi

# Set here rather than in .cargo/config.toml: on a Pi itself the same target is the host, and a
# native build must keep the native linker and run tests without qemu.
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER="qemu-aarch64 -L /usr/aarch64-linux-gnu"
# The cc crate builds bundled SQLite (rusqlite) and oniguruma (tokenizers) with these.
export CC_aarch64_unknown_linux_gnu=aarch64-linux-gnu-gcc
export AR_aarch64_unknown_linux_gnu=aarch64-linux-gnu-ar

cargo build --release --target "$TARGET" -p opensoc-edge
out="${CARGO_TARGET_DIR:-target}/$TARGET/release"
bin="$out/opensoc"
aarch64-linux-gnu-strip -o "$out/opensoc.stripped" "$bin"
size() { stat -c %s "$1"; }
echo "aarch64 binary: $bin ($(size "$bin") bytes; stripped: $out/opensoc.stripped, $(size "$out/opensoc.stripped") bytes)"

if $RUN_TESTS; then
  command -v qemu-aarch64 >/dev/null || { echo "error: qemu-aarch64 missing (apt-get install qemu-user)" >&2; exit 2; }
  # Release profile: the dependencies are the ones the binary build just compiled.
  for cpu in cortex-a72 max; do
    echo "core library unit tests${TEST_FILTER[*]:+ matching ${TEST_FILTER[*]}}, qemu -cpu $cpu"
    CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER="qemu-aarch64 -L /usr/aarch64-linux-gnu -cpu $cpu" \
      cargo test --release --target "$TARGET" -p opensoc --lib "${TEST_FILTER[@]}"
  done
fi
