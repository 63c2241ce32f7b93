#!/usr/bin/env bash
# Whether forwarding slows the agent: scans the given log files into a fresh database, in
# alternating rounds without forwarding and with it (to a PostgreSQL this script starts, and to
# a JSON lines file), and prints each setting's median lines/s and its ratio to the scan
# without forwarding. Every verdict must have reached both destinations by the scan's end.
#
#   scripts/bench-forward.sh [--runs N] FILE...       (default 3 rounds)
#
# BIN picks the binary (default: the dev-profile build, as the tests run it).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN="${BIN:-${CARGO_TARGET_DIR:-target}/debug/opensoc}"
runs=3
if [ "${1:-}" = "--runs" ]; then
  runs="${2:?--runs needs a number}"
  shift 2
fi
[ "$#" -gt 0 ] || { echo "usage: scripts/bench-forward.sh [--runs N] FILE..." >&2; exit 2; }
[ -x "$BIN" ] || { echo "error: no binary at $BIN (cargo build -p opensoc-edge)" >&2; exit 2; }
# shellcheck source=scripts/temp-postgres.sh
source scripts/temp-postgres.sh
temp_postgres_start
out="$PG_WORK/runs.jsonl"
for round in $(seq 1 "$runs"); do
  for setting in off on; do
    db="$PG_WORK/db-$round-$setting"
    extra=()
    if [ "$setting" = on ]; then
      extra=(--forward "$PG_URL" --forward "file:$PG_WORK/verdicts-$round.jsonl")
    fi
    # --store-every-window: every window is a verdict to forward, the most work for the forwarder.
    "$BIN" scan --json --store-every-window --db "$db" "${extra[@]}" "$@" >"$PG_WORK/out.json" \
      2>"$PG_WORK/err" || [ $? = 1 ]
    verdicts=$("$BIN" verdicts --db "$db" --format json --limit 0 | wc -l)
    delivered=0
    if [ "$setting" = on ]; then
      delivered=$(wc -l <"$PG_WORK/verdicts-$round.jsonl")
      if [ "$delivered" != "$verdicts" ]; then
        echo "error: round $round: $delivered of $verdicts verdicts in the JSON lines file" >&2
        cat "$PG_WORK/err" >&2
        exit 1
      fi
    fi
    python3 - "$setting" "$verdicts" "$PG_WORK/out.json" >>"$out" <<'PY'
import json, sys
s = json.loads(open(sys.argv[3]).read().splitlines()[-1])
print(json.dumps({"setting": sys.argv[1], "lines_per_s": s["lines"] / s["elapsed_s"],
                  "lines": s["lines"], "verdicts": int(sys.argv[2])}))
PY
  done
done
fleet=$("${PG_PSQL[@]}" -c 'SELECT count(*) FROM opensoc_verdicts')
python3 - "$out" "$fleet" "$runs" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
med = {k: statistics.median(r["lines_per_s"] for r in rows if r["setting"] == k) for k in ("off", "on")}
on = [r for r in rows if r["setting"] == "on"]
print(f"{rows[0]['lines']} lines, {on[0]['verdicts']} verdicts a scan, {sys.argv[3]} rounds")
print(f"without forwarding   {med['off']:8.1f} lines/s (median)")
print(f"forwarding to PostgreSQL and a JSON lines file  {med['on']:8.1f} lines/s (median), ratio {med['on'] / med['off']:.3f}")
fleet, want = int(sys.argv[2]), sum(r["verdicts"] for r in on)
print(f"fleet table: {fleet} rows for {want} verdicts forwarded")
if fleet != want:
    sys.exit("error: the fleet table does not hold every forwarded verdict")
PY
