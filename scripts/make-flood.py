#!/usr/bin/env python3
"""Writes a flood of one-line windows: an access log in which every line comes from another
visitor, so each line is a window of its own, as a busy site's crawlers or a botnet's requests
look to the windower. Deterministic (a fixed seed); the pages and agents are ordinary ones, so
the windows share a few templates and most are answered from the template cache.

  python3 scripts/make-flood.py BYTES OUT     e.g. 2000000000 /tmp/flood.log (2 GB)

Used by the store-growth and memory figures of the README ("The edge agent", "Bounded").
"""

import random
import sys

PAGES = [
    ("GET", "/", 200),
    ("GET", "/products?category=shoes&page=2", 200),
    ("GET", "/products/1842", 200),
    ("GET", "/static/css/site.css", 200),
    ("GET", "/about", 200),
    ("GET", "/blog/2026/11/choosing-running-shoes", 200),
    ("POST", "/cart/add", 302),
    ("GET", "/favicon.ico", 200),
]
AGENTS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
]
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: make-flood.py BYTES OUT")
    limit, out = int(sys.argv[1]), sys.argv[2]
    rng = random.Random(11)
    written = 0
    i = 0
    # Ten visitors a second from 2026-01-01: a visitor's next line, 16.7 million lines later,
    # is long after its window closed.
    with open(out, "w", buffering=1 << 20) as f:
        while written < limit:
            second = i // 10
            day, rest = divmod(second, 86400)
            month, mday = divmod(day, 28)
            method, page, status = PAGES[rng.randrange(len(PAGES))]
            line = '10.%d.%d.%d - - [%02d/%s/2026:%02d:%02d:%02d +0000] "%s %s HTTP/1.1" %d %d "-" "%s"\n' % (
                i >> 16 & 255, i >> 8 & 255, i & 255,
                mday + 1, MONTHS[month % 12], rest // 3600, rest // 60 % 60, rest % 60,
                method, page, status, rng.randrange(200, 9000), AGENTS[rng.randrange(len(AGENTS))],
            )
            f.write(line)
            written += len(line)
            i += 1
    print(f"{out}: {i} lines, {written} bytes", file=sys.stderr)


if __name__ == "__main__":
    main()
