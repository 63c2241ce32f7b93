#!/usr/bin/env python3
"""Per-label statistics of the training set's verdicts: the numbers data/taxonomy.json is built from.

Usage:
  scripts/taxonomy_stats.py [--check data/taxonomy.json] [soc_train.json]

The default data file is $OPENSOC_DATA/opensoc-ai/soc_train.json, or ../shared/data/... next to
the repository. Only the training set: soc_eval.json is held out and must not shape the taxonomy.

Per label it prints the count, techniques, tactics, severity counts and the derived values:
  severity   the most common level; on a tie, the level of the entry holding the median score,
             so that the default severity and the default risk score agree
  risk       the lower median (statistics.median_low), a score the training set actually uses
With --check it compares the taxonomy's severity, risk_score and first technique against these and
exits 1 on any difference, and reports training labels the taxonomy lacks.
"""
import json
import os
import re
import statistics
import sys
from collections import Counter, defaultdict

FIELD = re.compile(r"^([A-Z_]+):\s*(.*)$")
TECHNIQUE = re.compile(r"^(T\d{4}(?:\.\d{3})?|N/A)\s*(?:\((.*)\))?\s*$")


def default_path():
    root = os.environ.get("OPENSOC_DATA") or os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "data"
    )
    return os.path.join(root, "opensoc-ai", "soc_train.json")


def fields(output):
    got = {}
    for line in output.splitlines():
        m = FIELD.match(line.strip())
        if m and m.group(1) not in got:
            got[m.group(1)] = m.group(2).strip()
    return got


def collect(rows):
    per = defaultdict(lambda: {"n": 0, "tech": Counter(), "tactic": Counter(), "sev": Counter(),
                               "scored": []})
    names = defaultdict(Counter)
    for row in rows:
        f = fields(row["output"])
        m = TECHNIQUE.match(f["MITRE_TECHNIQUE"])
        if not m:
            sys.exit(f"unreadable technique {f['MITRE_TECHNIQUE']!r}")
        tid = m.group(1)
        names[tid][m.group(2) or ""] += 1
        s = per[f["THREAT_TYPE"]]
        s["n"] += 1
        s["tech"][tid] += 1
        s["tactic"][f["MITRE_TACTIC"]] += 1
        s["sev"][f["SEVERITY"]] += 1
        s["scored"].append((int(f["RISK_SCORE"]), f["SEVERITY"]))
    return per, names


def derived(s):
    scored = sorted(s["scored"])
    risk = statistics.median_low([r for r, _ in scored])
    top = s["sev"].most_common()
    tied = [sev for sev, c in top if c == top[0][1]]
    if len(tied) == 1:
        severity = tied[0]
    else:
        severity = scored[(len(scored) - 1) // 2][1]
    return severity, risk


def main():
    args = sys.argv[1:]
    check = None
    if args[:1] == ["--check"]:
        if len(args) < 2:
            sys.exit("--check needs the taxonomy file")
        check, args = args[1], args[2:]
    path = args[0] if args else default_path()
    if os.path.basename(path).startswith("soc_eval"):
        sys.exit("refusing to build statistics from the held-out eval set")
    with open(path, encoding="utf-8") as f:
        rows = json.load(f)
    per, names = collect(rows)

    print(f"{len(rows)} entries, {len(per)} labels, {len(names)} techniques\n")
    for label, s in per.items():
        severity, risk = derived(s)
        scores = [r for r, _ in s["scored"]]
        print(label)
        print(f"  count      {s['n']}")
        print(f"  techniques {dict(s['tech'])}")
        print(f"  tactics    {dict(s['tactic'])}")
        print(f"  severity   {dict(s['sev'].most_common())} -> {severity}")
        print(f"  risk       median {statistics.median(scores)} -> {risk} "
              f"(min {min(scores)}, max {max(scores)})")
    print("\ntechnique names as the training set writes them:")
    for tid, c in sorted(names.items()):
        print(f"  {tid}: {dict(c)}")

    if check:
        with open(check, encoding="utf-8") as f:
            tax = {t["label"]: t for t in json.load(f)["threat_types"]}
        bad = 0
        for label, s in per.items():
            t = tax.get(label)
            if t is None:
                print(f"MISSING {label!r}")
                bad += 1
                continue
            severity, risk = derived(s)
            want = (severity, risk, s["tech"].most_common(1)[0][0])
            got = (t["severity"], t["risk_score"], t["techniques"][0])
            if want != got:
                print(f"DIFFERS {label!r}: taxonomy {got}, training set {want}")
                bad += 1
        print(f"\ncheck: {bad} difference(s)")
        sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
