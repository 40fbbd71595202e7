"""Move all of the classifier's thresholds by one shift chosen on a labeled calibration set.

    .venv/bin/python scripts/calibrate_thresholds.py [--calib data/dev/dev.jsonl]
        [--model bot/policy/model/classifier.npz] [--max-over-refusal 0.0065] [--write]

Why: the per-category thresholds come from held-out predictions on the training data
(scripts/train_classifier.py), whose allowed lines are mostly deliberate hard negatives
(near-misses written to look like violations). A fixed share of *those* flagged is a much
stricter operating point than the same share of ordinary traffic, and it grows stricter
each time harder negatives are added. So the shape of the thresholds (one per category)
stays as trained, and one scalar shift, the same for every category, is chosen on text
written like real traffic: the largest hard-limit recall whose over-refusal (anything but
`allow` on allowed items) stays within --max-over-refusal, on the whole engine (rules,
context, classifier; no judge).

Honesty: the chosen shift is fitted on the calibration set, so figures on that same set are
optimistic. The script also prints a two-fold estimate (choose on one half of the set,
measure on the other, both ways), which is what to quote for unseen text. It never trains
anything; the weights are untouched.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.policy.classifier import DEFAULT_MODEL_PATH, uncertain_band  # noqa: E402
from bot.policy.engine import PolicyEngine  # noqa: E402
from bot.policy.evaluate import Item, evaluate_items, read_items  # noqa: E402
from bot.settings import Settings  # noqa: E402

SHIFTS = np.round(np.arange(-0.30, 0.1001, 0.01), 2)


@dataclass(frozen=True)
class Point:
    """The engine's figures on some items at one threshold shift."""

    shift: float
    allowed: int
    over_refused: int
    hard: int
    hard_refused: int
    restricted: int
    restricted_right: int

    @property
    def over_refusal(self) -> float:
        return self.over_refused / max(self.allowed, 1)

    @property
    def hard_recall(self) -> float:
        return self.hard_refused / max(self.hard, 1)

    @property
    def restricted_rate(self) -> float:
        return self.restricted_right / max(self.restricted, 1)

    def __str__(self) -> str:
        return (f"shift {self.shift:+.2f}: over-refusal {self.over_refused}/{self.allowed} "
                f"= {self.over_refusal:.2%}, hard-limit recall {self.hard_refused}/{self.hard} "
                f"= {self.hard_recall:.3f}, restricted {self.restricted_right}/{self.restricted} "
                f"= {self.restricted_rate:.3f}")


def measure(engine: PolicyEngine, items: list[Item], base: np.ndarray, shift: float) -> Point:
    assert engine.classifier is not None
    engine.classifier.thresholds = shifted(base, shift)
    report = evaluate_items(engine, items, "standard")
    return Point(
        shift=shift,
        allowed=report.allowed_total,
        over_refused=report.allowed_flagged,
        hard=sum(n for n, _ in report.hard_by_style.values()),
        hard_refused=sum(ok for _, ok in report.hard_by_style.values()),
        restricted=sum(n for n, _ in report.restricted.values()),
        restricted_right=sum(ok for _, ok in report.restricted.values()),
    )


def shifted(base: np.ndarray, shift: float) -> np.ndarray:
    out = np.clip(base + shift, 0.05, 0.99).astype(np.float32)
    out[0] = base[0]  # "allowed" has no threshold of its own
    return out


def choose(points: list[Point], max_over_refusal: float) -> Point:
    """Best hard-limit recall within the over-refusal budget; ties go to the higher shift
    (fewer flags), then to the better restricted rate."""
    within = [p for p in points if p.over_refusal <= max_over_refusal]
    if not within:
        return max(points, key=lambda p: p.shift)
    return max(within, key=lambda p: (p.hard_recall, p.restricted_rate, p.shift))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calib", type=Path, default=ROOT / "data" / "dev" / "dev.jsonl")
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL_PATH)
    # a third under the 1 % target: on dev, the over-refusal measured on the unseen half
    # landed up to 0.6 points away from the half the shift was chosen on
    parser.add_argument("--max-over-refusal", type=float, default=0.0065)
    parser.add_argument("--write", action="store_true", help="store the shifted thresholds")
    args = parser.parse_args()

    engine = PolicyEngine.from_settings(Settings.from_env(env={}, dotenv_path=None),
                                        model_path=args.model)
    assert engine.classifier is not None
    with np.load(args.model, allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files}
    meta = json.loads(str(arrays["meta"]))
    # always start from the trained thresholds, so re-running does not compound shifts
    base = np.asarray(meta.get("trained_thresholds", arrays["thresholds"]), dtype=np.float32)
    items = list(read_items(args.calib))

    # two-fold estimate: choose on one half, measure on the other
    halves = (items[0::2], items[1::2])
    held_out: list[Point] = []
    for fit_half, test_half in (halves, halves[::-1]):
        pick = choose([measure(engine, fit_half, base, s) for s in SHIFTS], args.max_over_refusal)
        held_out.append(measure(engine, test_half, base, pick.shift))
        print(f"chosen on one half: {pick}\n  measured on the other: {held_out[-1]}")
    total = Point(
        shift=float("nan"),
        allowed=sum(p.allowed for p in held_out),
        over_refused=sum(p.over_refused for p in held_out),
        hard=sum(p.hard for p in held_out),
        hard_refused=sum(p.hard_refused for p in held_out),
        restricted=sum(p.restricted for p in held_out),
        restricted_right=sum(p.restricted_right for p in held_out),
    )
    print(f"two-fold held-out estimate: over-refusal {total.over_refusal:.2%}, hard-limit recall "
          f"{total.hard_recall:.3f}, restricted {total.restricted_rate:.3f}")

    points = [measure(engine, items, base, s) for s in SHIFTS]
    pick = choose(points, args.max_over_refusal)
    unshifted = next(p for p in points if p.shift == 0.0)
    print(f"trained thresholds on the whole set: {unshifted}")
    print(f"chosen on the whole set:             {pick}")
    if not args.write:
        return 0
    thresholds = shifted(base, pick.shift)
    arrays["thresholds"] = thresholds
    arrays["low"], arrays["high"] = uncertain_band(thresholds)
    meta["trained_thresholds"] = [float(t) for t in base]
    calib = args.calib.resolve()
    meta["calibration"] = {
        "shift": pick.shift,
        "set": str(calib.relative_to(ROOT)) if calib.is_relative_to(ROOT) else str(args.calib),
        "max_over_refusal": args.max_over_refusal,
        "two_fold_held_out": {"over_refusal": round(total.over_refusal, 4),
                              "hard_recall": round(total.hard_recall, 4),
                              "restricted": round(total.restricted_rate, 4)},
    }
    arrays["meta"] = np.array(json.dumps(meta, ensure_ascii=False))
    np.savez_compressed(args.model, **arrays)
    print(f"wrote {args.model}: thresholds shifted by {pick.shift:+.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
