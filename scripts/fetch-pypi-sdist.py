#!/usr/bin/env python3
"""Downloads one release's source distribution from PyPI and checks its sha256.

Usage: scripts/fetch-pypi-sdist.py PACKAGE VERSION OUT [SHA256]

The file is named by PyPI's JSON API and fetched as a plain file (`pip download` of an sdist
would build its metadata, which means installing its build backend first). Its sha256 must be
SHA256 when given, else the one PyPI lists. Three tries, with a pause between them.
"""
import hashlib
import json
import sys
import time
import urllib.parse
import urllib.request


def main() -> None:
    if len(sys.argv) not in (4, 5):
        sys.exit(__doc__)
    package, version, out = sys.argv[1:4]
    pinned = sys.argv[4] if len(sys.argv) == 5 else None
    index = f"https://pypi.org/pypi/{package}/json"
    for attempt in range(3):
        try:
            with urllib.request.urlopen(index, timeout=60) as r:
                files = json.load(r)["releases"][version]
            f = next(f for f in files if f["packagetype"] == "sdist")
            # Mirrors may answer with addresses relative to the index.
            url = urllib.parse.urljoin(index, f["url"])
            h = hashlib.sha256()
            with urllib.request.urlopen(url, timeout=300) as r, open(out, "wb") as o:
                while chunk := r.read(1 << 20):
                    h.update(chunk)
                    o.write(chunk)
            want = pinned or f["digests"]["sha256"]
            if h.hexdigest() != want:
                sys.exit(f"sha256 mismatch for {url}: {h.hexdigest()}, expected {want}")
            return
        except OSError as e:
            if attempt == 2:
                sys.exit(f"cannot download the {package} {version} sdist from PyPI: {e}")
            time.sleep(2**attempt)


if __name__ == "__main__":
    main()
