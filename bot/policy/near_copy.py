"""Near-copy detection between training lines and evaluation prompts.

Used by the training-data hygiene test and by scripts/make_generic_allowed.py, so a
training line never rewords a dev item or a public evaluation prompt: that would make
the measured figures say more than the model knows.

Two measures, either one is enough:
- word 3-grams, Jaccard >= 0.6: the same prompt with a word or two changed;
- word 2-grams, Jaccard >= 0.5: a paraphrase that keeps half its word pairs
  ("convert a semi-automatic rifle to fully automatic fire" / "... to fire fully
  automatic").
"""

from __future__ import annotations

import re
from collections.abc import Iterable

THRESHOLDS = ((3, 0.6), (2, 0.5))  # (n, Jaccard) pairs
_WORD = re.compile(r"\w+")


def shingles(text: str, n: int) -> frozenset[tuple[str, ...]]:
    words = _WORD.findall(text.lower())
    return frozenset(zip(*(words[i:] for i in range(n)), strict=False))


class NearCopyIndex:
    """The reference texts (dev items, public prompts), indexed by their n-grams."""

    def __init__(self, texts: Iterable[str]) -> None:
        self.texts = list(texts)
        self._shingles = {n: [shingles(t, n) for t in self.texts] for n, _ in THRESHOLDS}
        self._index: dict[int, dict[tuple[str, ...], set[int]]] = {}
        for n, _ in THRESHOLDS:
            index: dict[tuple[str, ...], set[int]] = {}
            for i, grams in enumerate(self._shingles[n]):
                for gram in grams:
                    index.setdefault(gram, set()).add(i)
            self._index[n] = index

    def match(self, text: str) -> str | None:
        """The reference text `text` nearly copies, or None."""
        for n, threshold in THRESHOLDS:
            grams = shingles(text, n)
            if len(grams) < 3:  # too short to call a copy
                continue
            candidates = set().union(*(self._index[n].get(g, set()) for g in grams))
            for i in candidates:
                other = self._shingles[n][i]
                if len(grams & other) / len(grams | other) >= threshold:
                    return self.texts[i]
        return None
