#!/usr/bin/env bash
# How the detector of text addressed to the analyzer (src/signals/addressed.rs) reads the
# phrasing sets in tests/fixtures/addressed/: injection phrasings (bare, as host names, and
# whole log lines with the text in an attacker's field) and ordinary lines near their words.
# Usage: scripts/addressed-sets.sh [--show]   (--show prints the misses and false hits)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet --example addressed_scan
bin="${CARGO_TARGET_DIR:-target}/release/examples/addressed_scan"
dir=tests/fixtures/addressed
printf '| set | file | read as addressed |\n|---|---|---|\n'
for f in "$dir"/set*.txt; do
    n=$("$bin" < "$f" 2>&1 >/dev/null)
    printf '| %s | %s | %s |\n' "$(basename "$f" .txt | cut -d- -f1)" "$(basename "$f")" "$n"
    if [[ "${1:-}" == --show ]]; then
        if [[ "$f" == *ordinary* ]]; then
            "$bin" < "$f" 2>/dev/null | sed 's/^/    false hit: /'
        else
            "$bin" < "$f" 2>/dev/null | grep -vxFf - "$f" | sed 's/^/    missed: /' || true
        fi
    fi
done
