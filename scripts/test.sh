#!/usr/bin/env bash
# The project's test command: fetches what the tests read (the default model, llama.cpp's
# vocabulary test files, Windows event log recordings) into $OPENSOC_HOME, runs every test of
# the workspace and a small scan-level suite, then checks that the analyzer's verdicts are
# valid on a sample of the seed's prompts (all 500: scripts/validate-seed.sh with no argument).
# Builds go to $CARGO_TARGET_DIR (default target/).
#
#   scripts/test.sh           everything (18 minutes, 1,063 s, in a clean CI run on a 2-core
#                             machine; .ci/run prints each step's time)
#   scripts/test.sh --quick   the unit tests of every crate, no real-model run (a few minutes)
#   scripts/test.sh ARGS      ARGS go to `cargo test --workspace` (a filter, --no-fail-fast)
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = "--quick" ]; then
  shift
  exec cargo test --workspace --lib --bins "$@"
fi
bin="${CARGO_TARGET_DIR:-target}/debug"
# One build for everything below: the tests, and the `opensoc` and `opensoc-train` binaries
# they run, compiled with the workspace's features (the trainer's `train` on). Building each
# binary on its own, as users do, compiled the dependency tree twice more with other features
# (the agent alone took 306 s of a 1,564-s run); the users' build (no `train`) is still
# compiled, for the Raspberry Pi, by .ci/run.
cargo test --workspace --no-run "$@"
"$bin/opensoc" model fetch
scripts/fetch-spm-vocab.sh
scripts/fetch-evtx-samples.sh
cargo test --workspace "$@"
# A small scan-level suite on the real model: held-out services of fail2ban and the Core Rule
# Set, and attack windows carrying prompt injections; fails below the real-service goals
# (README, "Real-service suites"): 90% of attackers flagged, 3% of benign windows at most.
suite=$(mktemp -d)
trap 'rm -rf "$suite"' EXIT
"$bin/opensoc-train" suites --out "$suite" >/dev/null
"$bin/opensoc" eval --suite "$suite" --split heldout \
  --case fail2ban/sendmail-auth --case fail2ban/roundcube-auth --case fail2ban/named-refused \
  --case crs/933211 --case adversarial/ssh-brute/user --case adversarial/web-login-brute/agent \
  --case adversarial/sqli/url --case adversarial/exploit/agent \
  --min-recall 0.9 --max-false-positives 0.03
# Validity on the seed's prompts: 25 of each file in fast mode, 4 in full mode, whose free texts
# cost 3 s an entry here; the schema, not the entry, decides validity, so a regression shows on
# the first few entries.
BIN="$bin/opensoc" MODES=fast scripts/validate-seed.sh 25
BIN="$bin/opensoc" MODES=full scripts/validate-seed.sh 4
