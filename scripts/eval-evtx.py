#!/usr/bin/env python3
"""Scores `opensoc scan` on a tree of Windows event log recordings (issue 27's goals).

Usage: scripts/eval-evtx.py [--bin PATH] [--json OUT] [--scan-arg ARG]... DIR [DIR...]

Every .evtx (or compressed .evtx.gz/.zst/.bz2/.xz) file below DIR is scanned alone into a fresh
database, every window stored (`--store-every-window`). A file's expected ATT&CK tactic is the
name of the folder it sits in when that folder is named after a tactic (`Credential Access`,
`credential_access`, `TA0006` ...), as attack-recording collections are laid out; any other
folder is benign activity. Printed per folder and in all:

- attack folders: files with a finding at MEDIUM or above, and files whose findings include
  the folder's tactic (goals: 80% and 60% of files);
- benign folders: windows flagged at MEDIUM or above (goal: at most 3%).
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from collections import defaultdict

TACTICS = {
    "TA0001": "Initial Access",
    "TA0002": "Execution",
    "TA0003": "Persistence",
    "TA0004": "Privilege Escalation",
    "TA0005": "Defense Evasion",
    "TA0006": "Credential Access",
    "TA0007": "Discovery",
    "TA0008": "Lateral Movement",
    "TA0009": "Collection",
    "TA0010": "Exfiltration",
    "TA0011": "Command and Control",
    "TA0040": "Impact",
    "TA0043": "Reconnaissance",
    "TA0042": "Resource Development",
}
SEVERE = {"MEDIUM", "HIGH", "CRITICAL"}
SUFFIXES = (".evtx", ".evtx.gz", ".evtx.zst", ".evtx.bz2", ".evtx.xz")


def norm(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def tactic_of(folder: str):
    """The tactic a folder is named after, or None."""
    key = norm(folder)
    for tid, name in TACTICS.items():
        if key in (norm(name), norm(tid)) or key.startswith(norm(tid)):
            return name
    return None


def scan(binary: str, path: str, extra):
    """Every verdict stored for `path` alone, as JSON objects."""
    with tempfile.TemporaryDirectory() as d:
        db = os.path.join(d, "v.db")
        run = subprocess.run(
            [binary, "scan", "--quiet", "--store-every-window", "--db", db, *extra, path],
            capture_output=True,
            text=True,
        )
        if run.returncode not in (0, 1):
            print(f"warning: {path}: exit {run.returncode}: {run.stderr.strip()}", file=sys.stderr)
        out = subprocess.run(
            [binary, "verdicts", "--db", db, "--format", "json", "--limit", "0"],
            capture_output=True,
            text=True,
        )
        return [json.loads(line) for line in out.stdout.splitlines() if line.strip()]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dirs", nargs="+")
    ap.add_argument("--bin", default=os.environ.get("OPENSOC_BIN", "opensoc"))
    ap.add_argument("--json", help="write the per-file results here")
    ap.add_argument("--scan-arg", action="append", default=[], help="passed to scan (e.g. --scan-arg=--no-floors)")
    a = ap.parse_args()
    rows = []
    for top in a.dirs:
        for root, _, files in os.walk(top):
            for f in sorted(files):
                if not f.lower().endswith(SUFFIXES):
                    continue
                path = os.path.join(root, f)
                verdicts = scan(a.bin, path, a.scan_arg)
                flagged = [v for v in verdicts if v["severity"] in SEVERE]
                tactics = sorted({t.strip() for v in flagged for t in v["mitre_tactic"].split(",")})
                rows.append(
                    {
                        "file": path,
                        "folder": os.path.basename(root),
                        "expected": tactic_of(os.path.basename(root)),
                        "windows": len(verdicts),
                        "flagged": len(flagged),
                        "tactics": tactics,
                    }
                )
                print(f"{path}: {len(flagged)}/{len(verdicts)} windows flagged {tactics}", file=sys.stderr)
    by = defaultdict(list)
    for r in rows:
        by[r["folder"]].append(r)
    attack = [r for r in rows if r["expected"]]
    benign = [r for r in rows if not r["expected"]]
    print("| folder | files | windows | files flagged (MEDIUM+) | tactic found | windows flagged |")
    print("|---|---|---|---|---|---|")
    for folder, rs in sorted(by.items()):
        exp = rs[0]["expected"]
        hit = sum(1 for r in rs if r["flagged"])
        tac = sum(1 for r in rs if exp and any(norm(exp) == norm(t) for t in r["tactics"]))
        win = sum(r["windows"] for r in rs)
        fl = sum(r["flagged"] for r in rs)
        print(f"| {folder} | {len(rs)} | {win} | {hit} | {tac if exp else '-'} | {fl} |")
    if attack:
        hit = sum(1 for r in attack if r["flagged"])
        tac = sum(1 for r in attack if any(norm(r["expected"]) == norm(t) for t in r["tactics"]))
        print(f"attack files: {len(attack)}, flagged {hit} ({100 * hit / len(attack):.1f}%, goal 80%), "
              f"tactic found {tac} ({100 * tac / len(attack):.1f}%, goal 60%)")
    if benign:
        win = sum(r["windows"] for r in benign)
        fl = sum(r["flagged"] for r in benign)
        print(f"benign files: {len(benign)}, windows {win}, flagged {fl} "
              f"({100 * fl / max(win, 1):.1f}%, goal at most 3%)")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
