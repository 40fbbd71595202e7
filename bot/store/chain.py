"""The hash chain: canonical bytes of a record, its hash, and the walk that checks it.

Each record's hash is sha256 over compact JSON of its content fields (seq included, so
renumbering shows) followed by the previous record's hash. Editing a record breaks its
own hash; deleting one breaks the next record's link (and leaves a gap in seq);
inserting one adds a record the chain head never covered.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

GENESIS_HASH = "0" * 64

# Content fields, in hash order. Changing this list changes every hash: never do it
# without a migration that re-anchors the chain.
CONTENT_FIELDS: tuple[str, ...] = (
    "seq",
    "ts_us",
    "action",
    "request_id",
    "team",
    "channel",
    "user_id",
    "profile",
    "policy_version",
    "category",
    "decision",
    "stage",
    "score",
    "model",
    "latency_ms",
    "text",
    "text_hash",
    "detail",
    "review_id",
)
CHECKPOINT_ACTION = "checkpoint"

_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), check_circular=False).encode


def record_hash(values: Sequence[Any], prev_hash: str) -> str:
    """`values` are the CONTENT_FIELDS in order (ints, floats, str or None)."""
    payload = _encode([*values, prev_hash]).encode("utf-8")
    return hashlib.sha256(payload).hexdigest()


def chain_rows(rows: list[dict[str, Any]], head: tuple[int, str]) -> tuple[int, str]:
    """Assign seq, prev_hash and hash to rows after `head`; returns the new head."""
    seq, prev = head
    for row in rows:
        seq += 1
        row["seq"] = seq
        row["prev_hash"] = prev
        prev = row["hash"] = record_hash([row[f] for f in CONTENT_FIELDS], prev)
    return seq, prev


def row_hash(row: Mapping[str, Any]) -> str:
    return record_hash([row[f] for f in CONTENT_FIELDS], row["prev_hash"])


@dataclass(frozen=True)
class ChainProblem:
    seq: int
    problem: str  # "edited" | "inserted" | "deleted"
    message: str


class ChainWalker:
    """Feed rows in seq order; stops at the first problem.

    `rows` yield tuples: CONTENT_FIELDS..., prev_hash, hash. `checkpoints` maps
    "purged through seq N" to the hash of record N, from purge checkpoint records.
    """

    def __init__(self, head_seq: int, head_hash: str, checkpoints: Mapping[int, str]) -> None:
        self.head_seq = head_seq
        self.head_hash = head_hash
        self.checkpoints = checkpoints
        self.checked = 0
        self.first_seq: int | None = None
        self.last_seq: int | None = None
        self.last_hash = GENESIS_HASH

    def walk(self, rows: Iterable[Sequence[Any]]) -> ChainProblem | None:
        n = len(CONTENT_FIELDS)
        expected_prev = GENESIS_HASH
        prev_seq: int | None = None
        for row in rows:
            seq = int(row[0])
            stored_prev, stored_hash = row[n], row[n + 1]
            self.checked += 1
            if seq > self.head_seq or seq < 1:
                return ChainProblem(
                    seq, "inserted",
                    f"record {seq} is outside the chain the app wrote (head is {self.head_seq})",
                )
            if prev_seq is None:
                self.first_seq = seq
                if seq != 1:
                    anchor = self.checkpoints.get(seq - 1)
                    if anchor is None:
                        return ChainProblem(
                            1 if not self.checkpoints else max(self.checkpoints) + 1,
                            "deleted",
                            f"records before {seq} are missing and no purge checkpoint covers "
                            "them",
                        )
                    expected_prev = anchor
            elif seq != prev_seq + 1:
                return ChainProblem(
                    prev_seq + 1, "deleted",
                    f"records {prev_seq + 1}..{seq - 1} are missing (deleted)",
                )
            own_ok = record_hash(row[:n], stored_prev) == stored_hash
            if not own_ok:
                return ChainProblem(seq, "edited", f"record {seq} does not match its hash")
            if stored_prev != expected_prev:
                if prev_seq is None:
                    return ChainProblem(
                        seq, "edited",
                        f"record {seq} does not link to the purge checkpoint's last hash",
                    )
                return ChainProblem(
                    prev_seq, "edited",
                    f"record {seq} does not link to record {prev_seq} "
                    f"(record {prev_seq} was changed and re-hashed)",
                )
            expected_prev = stored_hash
            prev_seq = seq
            self.last_seq = seq
            self.last_hash = stored_hash
        return self._check_tail(prev_seq)

    def _check_tail(self, last_seq: int | None) -> ChainProblem | None:
        if last_seq is None:
            if self.head_seq == 0:
                return None
            cp_last = max(self.checkpoints) if self.checkpoints else 0
            return ChainProblem(
                cp_last + 1, "deleted",
                f"records {cp_last + 1}..{self.head_seq} are missing (deleted)",
            )
        if last_seq < self.head_seq:
            return ChainProblem(
                last_seq + 1, "deleted",
                f"records {last_seq + 1}..{self.head_seq} are missing (deleted)",
            )
        if self.last_hash != self.head_hash:
            return ChainProblem(
                last_seq, "edited",
                f"record {last_seq} does not match the chain head the app wrote",
            )
        return None


def parse_checkpoint(detail: str) -> tuple[int, str] | None:
    """(purged_through, last_hash) from a checkpoint record's detail, or None."""
    try:
        data = json.loads(detail)
        return int(data["purged_through"]), str(data["last_hash"])
    except (ValueError, KeyError, TypeError):
        return None
