#!/usr/bin/env bash
# The fleet load figure: AGENTS simulated agents (processes, default 50), each with a store of
# PER_AGENT synthetic verdicts (default 2,000), run `opensoc forward` into one PostgreSQL at
# the same moment; prints the verdicts accepted per second overall (all verdicts / wall time
# from the first start to the last exit) and checks that the fleet table holds every verdict
# exactly once.
#
#   scripts/bench-fleet.sh              (AGENTS=50 PER_AGENT=2000 by default)
#
# It starts its own PostgreSQL (scripts/temp-postgres.sh: default durability, fsync and
# synchronous commit on). The stores are made by the example edge/examples/synthetic_store.rs
# (no model). BIN and SYNTH pick the binaries; by default both are built with the dev profile
# (optimised, `cargo build -p opensoc-edge --bin opensoc --example synthetic_store`); set them
# to release builds to measure those.
set -euo pipefail
cd "$(dirname "$0")/.."
AGENTS="${AGENTS:-50}"
PER_AGENT="${PER_AGENT:-2000}"
TARGET_DIR="${CARGO_TARGET_DIR:-target}"
if [ -z "${BIN:-}" ] || [ -z "${SYNTH:-}" ]; then
  cargo build -q -p opensoc-edge --bin opensoc --example synthetic_store
fi
BIN="${BIN:-$TARGET_DIR/debug/opensoc}"
SYNTH="${SYNTH:-$TARGET_DIR/debug/examples/synthetic_store}"
[ -x "$BIN" ] || { echo "error: no binary at $BIN" >&2; exit 2; }
[ -x "$SYNTH" ] || { echo "error: no binary at $SYNTH" >&2; exit 2; }

# shellcheck source=scripts/temp-postgres.sh
source scripts/temp-postgres.sh
temp_postgres_start $((AGENTS + 20))
url="$PG_URL"
work="$PG_WORK"

mkdir -p "$work/stores"
echo "making $AGENTS stores of $PER_AGENT verdicts…" >&2
for i in $(seq 1 "$AGENTS"); do
  echo "$work/stores/agent$i.db"
done | xargs -P "$(nproc)" -I{} "$SYNTH" {} "$PER_AGENT" 2>/dev/null

echo "forwarding from $AGENTS agents at once…" >&2
start=$(date +%s.%N)
pids=()
for i in $(seq 1 "$AGENTS"); do
  "$BIN" forward --quiet --db "$work/stores/agent$i.db" --forward "$url" --wait 120 \
    2>"$work/stores/agent$i.err" &
  pids+=($!)
done
failed=0
for p in "${pids[@]}"; do
  wait "$p" || failed=$((failed + 1))
done
end=$(date +%s.%N)
if [ "$failed" -gt 0 ]; then
  echo "error: $failed agents did not deliver everything:" >&2
  cat "$work"/stores/*.err >&2
  exit 1
fi

psql=("${PG_PSQL[@]}")
rows="$("${psql[@]}" -c 'SELECT count(*) FROM opensoc_verdicts')"
distinct="$("${psql[@]}" -c 'SELECT count(*) FROM (SELECT DISTINCT agent_id, verdict_id FROM opensoc_verdicts) d')"
agents="$("${psql[@]}" -c 'SELECT count(*) FROM opensoc_agents')"
total=$((AGENTS * PER_AGENT))
python3 - "$total" "$start" "$end" "$rows" "$distinct" "$agents" "$AGENTS" <<'EOF'
import sys
total, start, end, rows, distinct, agents, want_agents = sys.argv[1:]
total, rows, distinct, agents, want_agents = map(int, (total, rows, distinct, agents, want_agents))
secs = float(end) - float(start)
print(f"{want_agents} agents, {total} verdicts forwarded in {secs:.2f} s: {total / secs:,.0f} verdicts/s accepted overall")
print(f"fleet table: {rows} rows, {distinct} distinct (agent, verdict), {agents} agents")
if rows != total or distinct != total or agents != want_agents:
    print("error: the fleet table does not hold exactly every verdict", file=sys.stderr)
    sys.exit(1)
EOF
