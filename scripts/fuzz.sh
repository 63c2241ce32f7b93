#!/usr/bin/env bash
# Fuzzes the GGUF reader and model loader with cargo-fuzz (libFuzzer).
#
# Usage: scripts/fuzz.sh [SECONDS] [TARGET...]
#   SECONDS  run time per target (default 600)
#   TARGET   gguf_parse and/or gguf_load (default: both)
# Environment:
#   FUZZ_SANITIZER  address (default) or none: passed to `cargo fuzz --sanitizer`
#   FUZZ_JOBS       parallel libFuzzer jobs per target (default 1)
#
# Builds are optimised (-O) but keep debug assertions and overflow checks (-a), so arithmetic
# overflow on hostile sizes is a crash too.
#
# There is no nightly toolchain here: RUSTC_BOOTSTRAP=1 lets stable rustc take the -Z flags
# that cargo-fuzz passes. Seeds are tiny valid Llama GGUFs written by the `write_fuzz_seeds`
# test (tests/bad_model.rs); fuzz/corpus and fuzz/artifacts are gitignored.
set -euo pipefail

secs=${1:-600}
shift || true
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(gguf_parse gguf_load)
sanitizer=${FUZZ_SANITIZER:-address}
jobs=${FUZZ_JOBS:-1}

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz

for t in "${targets[@]}"; do
    corpus="fuzz/corpus/$t"
    mkdir -p "$corpus"
    # Seeds go in every time; libFuzzer keeps what it found in the same directory.
    OPENSOC_FUZZ_SEEDS="$root/$corpus" \
        cargo test --quiet --test bad_model write_fuzz_seeds -- --ignored --exact >/dev/null
done

# The fuzz crate is its own workspace and builds into fuzz/target, whatever the caller's
# CARGO_TARGET_DIR says (instrumented artifacts must not mix with the workspace's).
export RUSTC_BOOTSTRAP=1
unset CARGO_TARGET_DIR
for t in "${targets[@]}"; do
    echo "== fuzzing $t for ${secs}s (sanitizer: $sanitizer)"
    # -jobs>0 sends libFuzzer's output to fuzz-N.log files, so it is only passed when asked for.
    par=()
    [ "$jobs" -gt 1 ] && par=(-jobs="$jobs" -workers="$jobs")
    cargo fuzz run --sanitizer "$sanitizer" -O -a "$t" "fuzz/corpus/$t" -- \
        -max_total_time="$secs" -rss_limit_mb=2048 -timeout=30 -print_final_stats=1 "${par[@]}"
done
