#!/usr/bin/env bash
# Whether the systemd journal is read as fast as syslog text: N journal entries with the fields
# journald gives a real entry (edge/examples/journal_lines.rs writes them), scanned into a fresh
# database in alternating rounds as the syslog lines they convert to (`scan -`), as
# `journalctl -o export` output (`scan -`), as `journalctl -o json` output (`scan -`) and, when
# systemd-journal-remote is installed to write a real journal file, through journalctl
# (`scan --journal-dir`). Prints each input's median lines/s and its ratio to the text's, by
# the wall clock and by CPU time (user and system, journalctl's included): on a shared machine
# the CPU time per line is the steadier figure.
#
#   scripts/bench-journal.sh [--runs N] [ENTRIES]       (default 3 rounds of 50,000 entries)
#
# BIN picks the binary, EXAMPLE the example (default: the dev-profile builds, as the tests run
# them: cargo build -p opensoc-edge --examples).
set -euo pipefail
cd "$(dirname "$0")/.."
target="${CARGO_TARGET_DIR:-target}"
BIN="${BIN:-$target/debug/opensoc}"
EXAMPLE="${EXAMPLE:-$target/debug/examples/journal_lines}"
runs=3
if [ "${1:-}" = "--runs" ]; then
  runs="${2:?--runs needs a number}"
  shift 2
fi
entries="${1:-50000}"
for f in "$BIN" "$EXAMPLE"; do
  [ -x "$f" ] || { echo "error: no binary at $f (cargo build -p opensoc-edge --examples)" >&2; exit 2; }
done
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$EXAMPLE" "$entries" --write "$work" >&2
inputs=(text export json)
remote=$(command -v systemd-journal-remote || ls /lib/systemd/systemd-journal-remote /usr/lib/systemd/systemd-journal-remote 2>/dev/null | head -1 || true)
if [ -n "$remote" ] && command -v journalctl >/dev/null; then
  mkdir "$work/journal"
  "$remote" --output="$work/journal/bench.journal" - <"$work/journal.export" 2>/dev/null
  inputs+=(journalctl)
else
  echo "note: no systemd-journal-remote or journalctl: the journalctl input is left out" >&2
fi
out="$work/runs.txt"
for round in $(seq 1 "$runs"); do
  for input in "${inputs[@]}"; do
    db="$work/db-$round-$input"
    case "$input" in
      text) args=(-); stdin="$work/lines.log" ;;
      export) args=(-); stdin="$work/journal.export" ;;
      json) args=(-); stdin="$work/journal.json" ;;
      journalctl) args=(--journal-dir "$work/journal"); stdin=/dev/null ;;
    esac
    /usr/bin/time -o "$work/cpu" -f "%U %S" \
      "$BIN" scan --json --db "$db" "${args[@]}" <"$stdin" >"$work/out.json" 2>"$work/err" || [ $? = 1 ] || {
      cat "$work/err" >&2
      exit 2
    }
    python3 - "$input" "$entries" "$work/out.json" "$work/cpu" >>"$out" <<'EOF'
import json, sys
input_, entries, path, cpu = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
s = json.load(open(path))
assert s["lines"] == entries, f"{input_}: {s['lines']} lines of {entries}"
user, system = open(cpu).read().split()[-2:]
print(input_, s["lines_per_s"], entries / (float(user) + float(system)))
EOF
    echo "round $round: $(tail -1 "$out")" >&2
  done
done
python3 - "$out" <<'EOF'
import statistics, sys
wall, cpu = {}, {}
for line in open(sys.argv[1]):
    name, rate, per_cpu = line.split()
    wall.setdefault(name, []).append(float(rate))
    cpu.setdefault(name, []).append(float(per_cpu))
base_wall = statistics.median(wall["text"])
base_cpu = statistics.median(cpu["text"])
for name in wall:
    w, c = statistics.median(wall[name]), statistics.median(cpu[name])
    print(
        f"{name:>10}: median {w:,.0f} lines/s ({w / base_wall:.3f} of the text's), "
        f"{c:,.0f} lines per CPU second ({c / base_cpu:.3f}), {len(wall[name])} runs"
    )
EOF
