#!/usr/bin/env python3
"""An access log of real labelled payloads, for measuring scans on web traffic.

    scripts/make-payload-log.py CSV OUT [--lines N] [--clients N] [--seed N]

CSV is a file of labelled HTTP parameter values with the columns payload and attack_type
(`../shared/data/httpparams/payload_train.csv`; `norm` marks ordinary values). Each client
address sends a few requests, each carrying one value as a query parameter of a page; about a
third of the clients also send the attacks of one type among ordinary requests. Lines are in
the combined log format, one to twenty seconds apart, so that each client's requests make
windows as a real visitor's would.
"""
import argparse
import csv
import datetime
import random
import urllib.parse

PAGES = ["/search", "/index.php", "/product", "/login", "/account/view", "/catalog/list"]
PARAMS = ["q", "id", "name", "page", "user", "city"]
AGENTS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/126.0 Safari/537.36",
]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("csv")
    ap.add_argument("out")
    ap.add_argument("--lines", type=int, default=1500)
    ap.add_argument("--clients", type=int, default=300)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    rng = random.Random(a.seed)
    by_label: dict[str, list[str]] = {}
    with open(a.csv, newline="", encoding="utf-8", errors="replace") as f:
        for row in csv.DictReader(f):
            by_label.setdefault(row["attack_type"], []).append(row["payload"])
    if "norm" not in by_label:
        raise SystemExit("error: the CSV has no `norm` rows (ordinary values)")
    attacks = sorted(k for k in by_label if k != "norm")
    clients = []
    for i in range(a.clients):
        ip = f"198.51.{100 + i // 250}.{1 + i % 250}"
        label = rng.choice(attacks) if attacks and rng.random() < 0.33 else None
        clients.append((ip, label, rng.choice(AGENTS)))
    t = datetime.datetime(2026, 3, 5, 10, 0, 0, tzinfo=datetime.timezone.utc)
    with open(a.out, "w", encoding="utf-8") as out:
        for _ in range(a.lines):
            ip, label, agent = rng.choice(clients)
            pool = by_label[label] if label and rng.random() < 0.6 else by_label["norm"]
            value = urllib.parse.quote(rng.choice(pool), safe="")
            target = f"{rng.choice(PAGES)}?{rng.choice(PARAMS)}={value}"
            stamp = t.strftime("%d/%b/%Y:%H:%M:%S +0000")
            status = rng.choice([200, 200, 200, 404, 302])
            out.write(f'{ip} - - [{stamp}] "GET {target} HTTP/1.1" {status} '
                      f'{rng.randint(200, 9000)} "-" "{agent}"\n')
            t += datetime.timedelta(seconds=rng.randint(1, 20))


if __name__ == "__main__":
    main()
