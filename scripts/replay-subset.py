#!/usr/bin/env python3
"""Writes a continued-training set: every example a newer training set adds to an older one,
plus a seeded sample of the older set (replay, so that what the older set taught is kept),
in a seeded random order.

    scripts/replay-subset.py NEW.json OLD.json REPLAY SEED OUT.json [ALWAYS.json]

ALWAYS.json, when given, is a set whose every example joins the subset (once: the sampled
replay skips the inputs it holds); step 7 gives the seed's soc_train.json, so that the seed's
own phrasing is replayed in full.

The shipped adapter's step 5 trains on
    scripts/replay-subset.py data5/train.json data4/train.json 1134 42 step5.json
where data4 and data5 are `opensoc-train data --recipe step4|step5 --seed 42 --structured-only`.
"""
import json
import random
import sys


def main() -> None:
    if len(sys.argv) not in (6, 7):
        sys.exit(__doc__)
    new_path, old_path, replay, seed, out = sys.argv[1:6]
    new = json.load(open(new_path, encoding="utf-8"))
    old = json.load(open(old_path, encoding="utf-8"))
    always = json.load(open(sys.argv[6], encoding="utf-8")) if len(sys.argv) == 7 else []
    old_inputs = {e["input"] for e in old}
    always_inputs = {e["input"] for e in always}
    added = [e for e in new if e["input"] not in old_inputs and e["input"] not in always_inputs]
    rng = random.Random(int(seed))
    pool = [e for e in old if e["input"] not in always_inputs]
    kept = rng.sample(pool, min(int(replay), len(pool)))
    subset = added + kept + always
    rng.shuffle(subset)
    with open(out, "w", encoding="utf-8") as f:
        json.dump(subset, f, ensure_ascii=False, indent=2)
        f.write("\n")
    print(
        f"{out}: {len(added)} added examples + {len(kept)} replayed + {len(always)} always"
        f" = {len(subset)}"
    )


if __name__ == "__main__":
    main()
