#!/usr/bin/env bash
# Sizes a machine for `opensoc scan`: scans the given log files once into a fresh database and
# prints lines per second, windows, model calls (and per 1,000 lines), template-cache hits (and
# of those, windows found benign by the benign-record memory),
# wall time, peak RSS and the database's size per byte of log. Every run starts from an empty
# database, so runs are comparable.
#
#   scripts/bench-scan.sh [--runs N] FILE...     (extra scan options: SCAN_ARGS="--fast")
#
# BIN picks the binary (default target/release/opensoc); with --runs N (default 1) the figures
# are the medians of N runs. Example, the ten Loghub samples of issue 21:
#   scripts/bench-scan.sh ../shared/data/loghub/*/*_2k.log
set -euo pipefail
cd "$(dirname "$0")/.."
BIN="${BIN:-target/release/opensoc}"
runs=1
if [ "${1:-}" = "--runs" ]; then
  runs="${2:?--runs needs a number}"
  shift 2
fi
[ "$#" -gt 0 ] || { echo "usage: scripts/bench-scan.sh [--runs N] FILE..." >&2; exit 2; }
for f in "$@"; do
  [ -r "$f" ] || { echo "error: cannot read $f" >&2; exit 2; }
done
[ -x "$BIN" ] || { echo "error: no binary at $BIN (cargo build --release -p opensoc-edge)" >&2; exit 2; }
command -v python3 >/dev/null || { echo "error: python3 is needed to read the scan's JSON" >&2; exit 2; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for i in $(seq 1 "$runs"); do
  rm -f "$work"/db*
  start=$(date +%s.%N)
  # shellcheck disable=SC2086 # SCAN_ARGS is a list of options
  /usr/bin/time -f "%M" -o "$work/rss" "$BIN" scan --json --db "$work/db" ${SCAN_ARGS:-} "$@" \
    >"$work/out.json" || [ $? = 1 ] # 1: findings, not an error
  end=$(date +%s.%N)
  # The database once the scan has exited (SQLite has folded its write-ahead log into it).
  db_bytes=0
  for f in "$work"/db "$work"/db-wal; do
    [ -f "$f" ] && db_bytes=$((db_bytes + $(stat -c %s "$f")))
  done
  python3 - "$work/out.json" "$start" "$end" "$work/rss" "$db_bytes" >>"$work/runs.jsonl" <<'EOF'
import json, sys
out = json.loads(open(sys.argv[1]).read().splitlines()[-1])
wall = float(sys.argv[3]) - float(sys.argv[2])
rss_kb = int(open(sys.argv[4]).read().split()[-1])
print(json.dumps({"lines": out["lines"], "bytes": out["bytes"], "windows": out["windows"],
                  "model_calls": out["model_calls"], "cache_hits": out["cache_hits"],
                  "record_hits": out.get("record_hits", 0),
                  "copies": out.get("benign_copies", 0), "db_bytes": int(sys.argv[5]),
                  "wall_s": wall, "peak_rss_mb": rss_kb / 1024}))
EOF
done
python3 - "$work/runs.jsonl" "$BIN" "$#" <<'EOF'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
med = lambda k: statistics.median(r[k] for r in rows)
lines, wall = rows[0]["lines"], med("wall_s")
calls = med("model_calls")
print(f"binary        {sys.argv[2]}")
print(f"files         {sys.argv[3]}, {lines} lines, {rows[0]['windows']} windows")
print(f"model calls   {calls:.0f} ({1000 * calls / max(lines, 1):.1f} per 1,000 lines), cache hits {med('cache_hits'):.0f} ({med('record_hits'):.0f} by benign records)")
print(f"wall          {wall:.1f} s (median of {len(rows)}), {lines / wall:.1f} lines/s")
print(f"peak RSS      {med('peak_rss_mb'):.0f} MB")
log_bytes, db_bytes = rows[0]["bytes"], rows[0]["db_bytes"]
print(f"database      {db_bytes} bytes for {log_bytes} bytes of log ({db_bytes / max(log_bytes, 1):.3f} per byte); "
      f"{rows[0]['copies']} benign windows counted, not stored")
EOF
