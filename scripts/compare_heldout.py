"""Compare two trainings' held-out predictions on the rows they share.

    .venv/bin/python scripts/train_classifier.py --no-save --dump-oof /tmp/before.jsonl
    (add or change training data)
    .venv/bin/python scripts/train_classifier.py --no-save --dump-oof /tmp/after.jsonl
    .venv/bin/python scripts/compare_heldout.py /tmp/before.jsonl /tmp/after.jsonl

Held-out figures of two trainings are not comparable as printed when the data differ: new
lines are often harder than old ones. This compares them on the same rows (the ones in
both files), at a fixed share of those rows' allowed items flagged, by P(not allowed)
alone: the share of red-line and of restricted rows ranked above that cut. It is how each
round of training data was judged without looking at dev (MODEL.md).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.policy.policy import HARD_LIMIT_IDS  # noqa: E402

RATES = (0.01, 0.02, 0.03, 0.05)


def read(path: Path) -> dict[tuple[str, str], float]:
    """(text, label) -> held-out P(not allowed)."""
    out: dict[tuple[str, str], float] = {}
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            out[(row["text"], row["label"])] = 1.0 - float(row["probs"][0])
    return out


def ranked_above(scores: dict[tuple[str, str], float], keys: list[tuple[str, str]]) -> list[str]:
    labels = np.array([k[1] for k in keys])
    violation = np.array([scores[k] for k in keys])
    allowed = labels == "allowed"
    hard = np.isin(labels, sorted(HARD_LIMIT_IDS))
    restricted = ~allowed & ~hard
    cells = []
    for rate in RATES:
        cut = np.quantile(violation[allowed], 1 - rate)
        cells.append(f"@{rate:.0%}: red-line {np.mean(violation[hard] > cut):.3f} "
                     f"restricted {np.mean(violation[restricted] > cut):.3f}")
    return cells


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("before", type=Path)
    parser.add_argument("after", type=Path)
    args = parser.parse_args()
    before, after = read(args.before), read(args.after)
    shared = [k for k in before if k in after]
    if not shared:
        print("no rows in common", file=sys.stderr)
        return 2
    print(f"rows in common: {len(shared)} (before {len(before)}, after {len(after)}); "
          "share of allowed rows flagged -> share of violation rows flagged")
    for name, scores in (("before", before), ("after", after)):
        print(f"{name:<7} " + "  ".join(ranked_above(scores, shared)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
