"""How much of a labeled set falls in the classifier's uncertain band: the items the
engine would send to the LLM judge (REDLINE_JUDGE_*) if one were configured.

    .venv/bin/python scripts/judge_band.py [data/dev/dev.jsonl] [--profile P]

Prints, for hard-limit items the embedded stages do not refuse and for allowed items,
how many are in the band. A measure of what a judge could fix and of the traffic it
would see; it runs only the embedded stages (no judge is called).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.policy.engine import PolicyEngine  # noqa: E402
from bot.policy.evaluate import read_items  # noqa: E402
from bot.policy.normalize import normalize  # noqa: E402
from bot.policy.policy import HARD_LIMIT_IDS  # noqa: E402
from bot.settings import Settings  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("file", nargs="?", default=str(ROOT / "data" / "dev" / "dev.jsonl"))
    parser.add_argument("--profile", default="standard")
    args = parser.parse_args()
    engine = PolicyEngine.from_settings(Settings.from_env(env={}, dotenv_path=None))
    assert engine.classifier is not None
    missed = missed_in_band = allowed = allowed_in_band = 0
    for item in read_items(args.file):
        verdict = engine.decide(item.text, kind=item.kind, profile=args.profile,  # type: ignore[arg-type]
                                context=item.context)
        text = " \n ".join([*item.context, item.text]) if item.context else item.text
        scores = engine.classifier.score(normalize(text), item.kind)
        category, _ = scores.top_category()
        in_band = scores.uncertain(category)  # the engine's own test before asking the judge
        if item.label in HARD_LIMIT_IDS and verdict.decision != "refuse":
            missed += 1
            missed_in_band += in_band
        elif item.label == "allowed":
            allowed += 1
            allowed_in_band += in_band
    print(f"hard-limit items not refused: {missed}; in the judge's band: {missed_in_band}")
    print(f"allowed items: {allowed}; in the judge's band: {allowed_in_band} "
          f"({allowed_in_band / max(allowed, 1):.1%} of allowed traffic would reach the judge)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
