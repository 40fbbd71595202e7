"""The training data stays clean: well-formed, on the taxonomy, and never a copy of the
public evaluation prompts (those are for measuring only) or of the dev set."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from bot.policy.near_copy import NearCopyIndex

ROOT = Path(__file__).resolve().parents[2]
TRAIN = ROOT / "data" / "train"
DEV = ROOT / "data" / "dev" / "dev.jsonl"
HELDOUT = ROOT / "data" / "heldout"
PUBLIC = ROOT.parent / "shared" / "eval" / "public"
LABELS = {
    "allowed", "autonomous_weapons", "mass_domestic_surveillance", "cbrn_weapons",
    "weapons_development", "military_operations", "targeted_surveillance", "offensive_cyber",
}
def _train_rows() -> list[dict]:
    rows = []
    for path in sorted(TRAIN.glob("*.jsonl")):
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if line.strip():
                row = json.loads(line)
                row["_where"] = f"{path.name}:{n}"
                rows.append(row)
    return rows


def _near_copies(texts: list[str], train: list[dict]) -> list[str]:
    index = NearCopyIndex(texts)
    found = []
    for row in train:
        match = index.match(row["text"])
        if match is not None:
            found.append(f"{row['_where']} ~ {match[:80]!r}")
    return found


def test_training_rows_are_well_formed_and_unique():
    rows = _train_rows()
    assert len(rows) > 1000
    seen: dict[str, str] = {}
    for row in rows:
        assert row["label"] in LABELS, row["_where"]
        assert isinstance(row["text"], str) and row["text"].strip(), row["_where"]
        key = row["text"].strip().lower()
        assert key not in seen, f"duplicate: {row['_where']} and {seen[key]}"
        seen[key] = row["_where"]


def test_no_training_row_copies_the_dev_set():
    dev = [json.loads(line)["text"] for line in DEV.read_text(encoding="utf-8").splitlines()]
    assert _near_copies(dev, _train_rows()) == []


def test_no_training_row_copies_the_heldout_set():
    heldout = [
        json.loads(line)["text"]
        for path in sorted(HELDOUT.glob("*.jsonl"))
        for line in path.read_text(encoding="utf-8").splitlines()
    ]
    assert len(heldout) > 1000
    assert _near_copies(heldout, _train_rows()) == []


@pytest.mark.skipif(not PUBLIC.is_dir(), reason="../shared/eval/public is not beside the repo")
def test_no_training_row_copies_a_public_eval_prompt():
    prompts = []
    for path in PUBLIC.glob("*.csv"):
        with path.open(encoding="utf-8", newline="") as f:
            for row in csv.DictReader(f):
                prompts.append(row.get("prompt") or row.get("Behavior") or "")
    assert len(prompts) > 400
    assert _near_copies(prompts, _train_rows()) == []
