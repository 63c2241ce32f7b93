#!/usr/bin/env bash
# `opensoc serve` against the commands it stands in for, side by side on this machine, one run:
#   1. latency: POST /api/analyze (the client's wall time, HTTP included) against the analysis
#      time `opensoc analyze --json` reports (latency_ms, model load excluded), on the same
#      entries (the seed eval set's first ENTRIES inputs), alternating; medians and their ratio;
#   2. a 2,000-line file: the batch API (upload to its `done` event) against `opensoc scan`
#      of the same file (wall, model load included), alternating ROUNDS times; medians, ratio;
#   3. 20 clients at once (10 analyses, 10 listing verdicts and the report) while `opensoc
#      watch` writes the same database: errors, the queries' median and worst latency, and
#      whether watch stored every line meanwhile.
#
# Usage: scripts/bench-serve.sh [ENTRIES] [FILE] [ROUNDS]
#   defaults: 10 entries, ../shared/data/loghub/Linux/Linux_2k.log (or $OPENSOC_DATA), 3 rounds
set -euo pipefail
cd "$(dirname "$0")/.."
ENTRIES=${1:-10}
DATA=${OPENSOC_DATA:-../shared/data}
FILE=${2:-$DATA/loghub/Linux/Linux_2k.log}
ROUNDS=${3:-3}
cargo build --release -q -p opensoc-edge
BIN=$PWD/target/release/opensoc
export OPENSOC_CONFIG=/dev/null
$BIN model fetch >/dev/null
WORK=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT

$BIN serve --listen 127.0.0.1:0 --db "$WORK/v.db" >"$WORK/serve.out" &
for _ in $(seq 100); do grep -q http "$WORK/serve.out" 2>/dev/null && break; sleep 0.2; done
URL=$(grep -o 'http://[0-9.:]*' "$WORK/serve.out")
echo "server: $URL ($(nproc) cores)"

python3 - "$BIN" "$URL" "$DATA/opensoc-ai/soc_eval.json" "$ENTRIES" "$FILE" "$ROUNDS" "$WORK" <<'PY'
import json, os, statistics, subprocess, sys, threading, time, urllib.error, urllib.request

binary, url, evalset, entries, path, rounds, work = sys.argv[1:8]
entries, rounds = int(entries), int(rounds)

def post(route, body, ctype):
    req = urllib.request.Request(url + route, data=body, headers={"content-type": ctype})
    with urllib.request.urlopen(req, timeout=600) as r:
        return r.status, r.read()

def get(route):
    with urllib.request.urlopen(url + route, timeout=600) as r:
        return r.status, r.read()

# 1. One entry: the API's round trip against analyze's own analysis time.
inputs = [e["input"] for e in json.load(open(evalset))[:entries]]
api, cli = [], []
for text in inputs:
    out = subprocess.run([binary, "analyze", "--json", text], capture_output=True, check=True)
    cli.append(json.loads(out.stdout)["latency_ms"])
    t = time.perf_counter()
    post("/api/analyze", json.dumps({"text": text}).encode(), "application/json")
    api.append((time.perf_counter() - t) * 1000)
a, c = statistics.median(api), statistics.median(cli)
print(f"1. analysis latency, median of {len(inputs)} entries: API {a:.0f} ms (HTTP included), "
      f"analyze {c:.0f} ms (analysis only): API/analyze {a / c:.2f}")

# 2. A file: the batch API against scan.
data = open(path, "rb").read()
lines = data.count(b"\n")
batch, scan = [], []
for r in range(rounds):
    db = os.path.join(work, f"scan{r}.db")
    t = time.perf_counter()
    subprocess.run([binary, "scan", "-q", "--db", db, path], capture_output=True)
    scan.append(time.perf_counter() - t)
    t = time.perf_counter()
    _, body = post("/api/batch?name=bench.log", data, "application/octet-stream")
    job = json.loads(body)["id"]
    _, events = get(f"/api/batch/{job}/events")
    batch.append(time.perf_counter() - t)
    last = [l for l in events.decode().splitlines() if l.startswith("event: ")][-1]
    assert last == "event: done", last
b, s = statistics.median(batch), statistics.median(scan)
print(f"2. {lines}-line file ({os.path.basename(path)}), median of {rounds}: batch API {b:.1f} s, "
      f"scan {s:.1f} s (model load included): batch/scan {b / s:.2f}")

# 3. Twenty clients while watch writes the same database.
logs = os.path.join(work, "logs"); os.makedirs(logs)
log = os.path.join(logs, "auth.log")
def append(n, start):
    with open(log, "a") as f:
        for i in range(start, start + n):
            f.write(f"Nov 27 10:{i // 60 % 60:02}:{i % 60:02} web sshd[{4000 + i}]: Failed password "
                    f"for root from 203.0.113.{1 + i % 3} port {40000 + i} ssh2\n")
append(50, 0)
db = os.path.join(work, "v.db")
watch = subprocess.Popen([binary, "watch", "--db", db, "--poll-secs", "0.2", "--idle-secs", "1", logs],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
errors, query_ms, analyze_ms = [], [], []
lock = threading.Lock()
def client(i):
    for k in range(5):
        try:
            t = time.perf_counter()
            if i % 2 == 0:
                post("/api/analyze", json.dumps({"text": inputs[(i + k) % len(inputs)]}).encode(), "application/json")
                with lock: analyze_ms.append((time.perf_counter() - t) * 1000)
            else:
                append(10, 1000 + i * 100 + k * 10)
                t = time.perf_counter()
                get("/api/verdicts?limit=0"); get("/api/report")
                with lock: query_ms.append((time.perf_counter() - t) * 1000)
        except urllib.error.HTTPError as e:
            with lock: errors.append(f"{e.code} {e.read()[:300]!r}")
        except Exception as e:
            with lock: errors.append(repr(e))
t = time.perf_counter()
threads = [threading.Thread(target=client, args=(i,)) for i in range(20)]
for th in threads: th.start()
for th in threads: th.join()
wall = time.perf_counter() - t
want = 50 + 10 * 5 * 10
deadline = time.time() + 300
stored = 0
while time.time() < deadline:
    out = subprocess.run([binary, "verdicts", "--db", db, "--format", "json", "--limit", "0"],
                         capture_output=True, text=True)
    stored = sum(json.loads(l)["lines"] for l in out.stdout.splitlines())
    if stored >= want: break
    time.sleep(1)
watch.terminate(); watch.wait()
print(f"3. 20 clients, 100 requests in {wall:.1f} s: {len(errors)} errors; verdict queries (list + report) "
      f"median {statistics.median(query_ms):.0f} ms, worst {max(query_ms):.0f} ms; analyses median "
      f"{statistics.median(analyze_ms):.0f} ms, worst {max(analyze_ms):.0f} ms (queued behind each "
      f"other on the one model thread); watch stored {stored} of {want} lines meanwhile")
for e in errors[:5]: print("   error:", e)
PY
