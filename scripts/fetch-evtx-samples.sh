#!/usr/bin/env bash
# Puts real Windows event logs (.evtx, gzip-compressed) into $OPENSOC_HOME/samples/evtx/ for the
# native .evtx reader's tests (edge/tests/evtx.rs) and its speed figure (README, "Windows event
# logs"). They are Winlogbeat's test recordings (Security, System, PowerShell and Sysmon
# channels, from Windows Server 2012-2019 and Windows 10 machines), as shipped in the evtxtoelk
# 2.2.0 source distribution on PyPI (Apache-2.0; the recordings come from the Elastic Beats
# repository). They are data, not committed here; only the .evtx.gz members are extracted.
set -euo pipefail

home="${OPENSOC_HOME:-$HOME/.cache/opensoc}"
dest="$home/samples/evtx"
version=2.2.0
sha256=d8dc38e91947325b69be371119a189597245db53b42738a92765941da7087ee3

if [[ -s "$dest/.complete" ]]; then
    echo "evtx samples already present in $dest"
    exit 0
fi
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
sdist="$tmp/evtxtoelk-$version.tar.gz"
"$(dirname "$0")/fetch-pypi-sdist.py" evtxtoelk "$version" "$sdist" "$sha256"
tar -xzf "$sdist" -C "$tmp" --wildcards "evtxtoelk-$version/tests/data/winlogbeat/*/*.evtx.gz"
mkdir -p "$dest"
n=0
for f in "$tmp/evtxtoelk-$version"/tests/data/winlogbeat/*/*.evtx.gz; do
    cp "$f" "$dest/"
    n=$((n + 1))
done
echo "$n" > "$dest/.complete"
echo "$n evtx samples in $dest"
