#!/usr/bin/env bash
# Fuzzes opensoc's readers of untrusted input with cargo-fuzz (libFuzzer).
#
# Usage: scripts/fuzz.sh [SECONDS] [TARGET...]
#   SECONDS  run time per target (default 600)
#   TARGET   any of the targets below (default: all, one after another)
#     gguf_parse       GGUF header parser
#     gguf_load        model file loader (tokenizer, weights, one forward step)
#     evtx_read        Windows event logs (.evtx) through identify and the line reader
#     structured_line  one log record through the record parser and compact renderings
#     journal_export   systemd journal output (export format, JSON) converted to lines
# Environment:
#   FUZZ_SANITIZER  address (default) or none: passed to `cargo fuzz --sanitizer`
#   FUZZ_JOBS       parallel libFuzzer jobs per target (default 1)
#   FUZZ_ARGS       more libFuzzer options, e.g. "-fork=1 -ignore_crashes=1" to go on past a
#                   known crash (each one is still written to fuzz/artifacts/<target>/)
#
# Builds are optimised (-O) but keep debug assertions and overflow checks (-a), so arithmetic
# overflow on hostile sizes is a crash too.
#
# There is no nightly toolchain here: RUSTC_BOOTSTRAP=1 lets stable rustc take the -Z flags
# that cargo-fuzz passes. Seeds are written into fuzz/corpus/<target> before each run (see
# seed below); fuzz/corpus and fuzz/artifacts are gitignored.
set -euo pipefail

all=(gguf_parse gguf_load evtx_read structured_line journal_export)
secs=${1:-600}
shift || true
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=("${all[@]}")
sanitizer=${FUZZ_SANITIZER:-address}
jobs=${FUZZ_JOBS:-1}

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

for t in "${targets[@]}"; do
    case " ${all[*]} " in
    *" $t "*) ;;
    *)
        echo "unknown fuzz target '$t'; targets: ${all[*]}" >&2
        exit 2
        ;;
    esac
done

command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz

# libFuzzer options of one target beyond the common ones.
options() {
    case $1 in
    # An event log is a 4 KiB header and 64 KiB chunks: room for three chunks (the second
    # and third cut), so that records across chunks and damaged later chunks are reached.
    evtx_read) echo -max_len=200000 ;;
    # A log line is kept up to 64 KiB (the line reader's MAX_LINE).
    structured_line) echo -max_len=65536 ;;
    # Several entries, or one whose message is over MAX_FIELD (64 KiB) and is cut.
    journal_export) echo -max_len=131072 ;;
    esac
}

# Writes the seeds of target $1 into corpus directory $2. Seeds go in every time; libFuzzer
# keeps what it found in the same directory.
seed() {
    local t=$1 corpus=$2
    case $t in
    gguf_parse | gguf_load)
        # Tiny valid Llama GGUFs written by the `write_fuzz_seeds` test (tests/bad_model.rs).
        OPENSOC_FUZZ_SEEDS="$root/$corpus" \
            cargo test --quiet --test bad_model write_fuzz_seeds -- --ignored --exact >/dev/null
        ;;
    evtx_read)
        # Real event logs (scripts/fetch-evtx-samples.sh: Winlogbeat's test recordings, not
        # committed), decompressed, plus cut copies: the header alone, a chunk header, half a
        # chunk, and the longest log cut to two chunks and to max_len.
        local dir="${OPENSOC_HOME:-$HOME/.cache/opensoc}/samples/evtx"
        if [ ! -s "$dir/.complete" ] && [ -x scripts/fetch-evtx-samples.sh ]; then
            scripts/fetch-evtx-samples.sh || true
        fi
        local n=0 f name largest="" size max=0
        for f in "$dir"/*.evtx.gz; do
            [ -e "$f" ] || continue
            name=$(basename "$f" .gz)
            gzip -dc "$f" >"$corpus/$name"
            size=$(wc -c <"$corpus/$name")
            if [ "$size" -gt "$max" ]; then
                max=$size
                largest=$name
            fi
            n=$((n + 1))
        done
        if [ "$n" -eq 0 ]; then
            echo "warning: no .evtx samples in $dir (scripts/fetch-evtx-samples.sh); evtx_read starts from an empty corpus" >&2
            return
        fi
        head -c 4096 "$corpus/$largest" >"$corpus/cut-header.evtx"
        head -c 4608 "$corpus/$largest" >"$corpus/cut-chunk-header.evtx"
        head -c 36864 "$corpus/$largest" >"$corpus/cut-half-chunk.evtx"
        if [ "$max" -gt 200000 ]; then
            head -c 135168 "$corpus/$largest" >"$corpus/cut-two-chunks.evtx"
            head -c 200000 "$corpus/$largest" >"$corpus/cut-max-len.evtx"
        fi
        ;;
    structured_line | journal_export)
        # Our own test strings (logs/src/logline/structured_tests.rs, edge/tests/journal.rs).
        cp fuzz/seeds/"$t"/* "$corpus"/
        if [ "$t" = journal_export ]; then
            # An entry whose message is longer than the journal reader keeps (MAX_FIELD, 64 KiB):
            # also lets libFuzzer's length limit start there rather than at the small seeds'.
            {
                printf '__CURSOR=s=1;i=9\n__REALTIME_TIMESTAMP=1772704809000000\n_HOSTNAME=web1\n'
                printf 'SYSLOG_IDENTIFIER=app\n_PID=9\nMESSAGE='
                head -c 66000 /dev/zero | tr '\0' x
                printf '\n\n'
            } >"$corpus/long-message.txt"
        else
            # A line near MAX_LINE: the same for the record parser.
            {
                printf '{"ts":1795860001,"src_ip":"203.0.113.9","status":200,"path":"/","msg":"'
                head -c 60000 /dev/zero | tr '\0' x
                printf '"}'
            } >"$corpus/long-line.json"
        fi
        ;;
    esac
}

for t in "${targets[@]}"; do
    corpus="fuzz/corpus/$t"
    mkdir -p "$corpus"
    seed "$t" "$corpus"
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
    # shellcheck disable=SC2046,SC2086 # options are words
    cargo fuzz run --sanitizer "$sanitizer" -O -a "$t" "fuzz/corpus/$t" -- \
        -max_total_time="$secs" -rss_limit_mb=2048 -timeout=30 -print_final_stats=1 \
        $(options "$t") ${FUZZ_ARGS:-} "${par[@]}"
done
