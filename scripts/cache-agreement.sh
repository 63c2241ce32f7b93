#!/usr/bin/env bash
# Whether the template cache and the benign-record memory give the verdicts the model gives:
# scans the files twice into fresh databases, once with `--no-cache` (every window judged by
# the model) and once as `scan` runs by default, both with `--store-every-window`, and
# compares the two verdicts of each window (windows match by source and text). Prints the
# windows, how many came from either cache, and each disagreement (category or severity).
#
#   scripts/cache-agreement.sh FILE...        (BIN picks the binary, default target/release/opensoc)
#
# Exit status 1 when a window disagrees.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN="${BIN:-target/release/opensoc}"
[ "$#" -gt 0 ] || { echo "usage: scripts/cache-agreement.sh FILE..." >&2; exit 2; }
[ -x "$BIN" ] || { echo "error: no binary at $BIN (cargo build --release -p opensoc-edge)" >&2; exit 2; }
command -v python3 >/dev/null || { echo "error: python3 is needed to compare the databases" >&2; exit 2; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for run in model cached; do
  extra=""
  [ "$run" = model ] && extra="--no-cache"
  # shellcheck disable=SC2086 # extra is one option or none
  "$BIN" scan --json --store-every-window --db "$work/$run.db" $extra "$@" >"$work/$run.json" \
    || [ $? = 1 ] # 1: findings, not an error
done
python3 - "$work/model.db" "$work/cached.db" <<'PY'
import sqlite3, sys
def rows(path):
    c = sqlite3.connect(path)
    q = "SELECT source, input, category, severity, cached_from IS NOT NULL FROM verdicts ORDER BY id"
    return [(r[0], r[1], r[2], r[3], r[4]) for r in c.execute(q)]
model = {}
for source, text, cat, sev, _ in rows(sys.argv[1]):
    model.setdefault((source, text), []).append((cat, sev))
total = cached = differ = unmatched = 0
for source, text, cat, sev, from_cache in rows(sys.argv[2]):
    total += 1
    cached += from_cache
    alts = model.get((source, text))
    if not alts:
        unmatched += 1
        continue
    want = alts.pop(0)
    if want != (cat, sev):
        differ += 1
        how = "cache" if from_cache else "model"
        print(f"differs ({how}): {source}: model {want[0]} {want[1]}, scan {cat} {sev}")
        print("    " + text.replace("\n", "\n    ")[:600])
print(f"windows {total}, from the cache {cached}, disagreements {differ} "
      f"({100 * differ / max(total, 1):.1f}%), unmatched {unmatched}")
sys.exit(1 if differ else 0)
PY
