#!/usr/bin/env bash
# Counts the aarch64 instructions `opensoc eval` executes per entry, under qemu-user with the
# counting plugin in scripts/qemu-insn-count, for projecting the time per entry on a Raspberry
# Pi (README, "Raspberry Pi (aarch64)"). Runs the first N entries (default 10) and the first
# one, so that loading (model, tokenizer, adapter) cancels out of the per-entry figure:
#
#   per entry = (instructions with N entries - instructions with 1) / (N - 1)
#
#   scripts/aarch64-insns.sh [N]       on QEMU_CPUS (default "cortex-a72 max": Pi 4's core, and
#                                      qemu's most capable, with dotprod like Pi 5's)
#
# Slow: qemu runs the plugin's callback on every translated block (about 45 s of CPU per entry
# here, on one thread). Needs the binary from scripts/build-aarch64.sh, qemu-user, a C compiler
# and the model.
set -euo pipefail
cd "$(dirname "$0")/.."
N="${1:-10}"
[ "$N" -ge 2 ] || { echo "error: N must be at least 2" >&2; exit 2; }
DATA="${OPENSOC_DATA:-../shared/data}/opensoc-ai/soc_eval.json"
ARM_BIN="${CARGO_TARGET_DIR:-target}/aarch64-unknown-linux-gnu/release/opensoc"
[ -x "$ARM_BIN" ] || { echo "error: $ARM_BIN not built (scripts/build-aarch64.sh)" >&2; exit 2; }
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cc -shared -fPIC -O2 -Wall -o "$work/insn_count.so" scripts/qemu-insn-count/insn_count.c

# One thread: the thread pool's workers spin while they wait, and those instructions (which
# depend on the host's timing) would be counted as work. The figure is one core's work.
export CANDLE_NUM_THREADS=1 RAYON_NUM_THREADS=1
count() { # CPU LIMIT -> instructions
  qemu-aarch64 -L /usr/aarch64-linux-gnu -cpu "$1" -plugin "$work/insn_count.so" -d plugin \
    -D "$work/count.txt" "$ARM_BIN" eval --data "$DATA" --limit "$2" \
    --predictions "$work/p.jsonl" --json >/dev/null
  awk '/^insns/ {print $2}' "$work/count.txt"
}
for cpu in ${QEMU_CPUS:-cortex-a72 max}; do
  all=$(count "$cpu" "$N")
  one=$(count "$cpu" 1)
  echo "$cpu: $all instructions for $N entries, $one for 1; per entry: $(((all - one) / (N - 1)))"
done
