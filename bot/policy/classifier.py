"""Stage (b): the embedded classifier. Numpy only at run time; see MODEL.md for the choice.

A multinomial logistic regression over hashed character n-grams, word n-grams and
intent crosses (bot/policy/features.py), trained by scripts/train_classifier.py and
shipped as bot/policy/model/classifier.npz. Per-category thresholds (and an uncertain
band for the optional judge) were tuned on a held-out split of the training data.
Long texts are scored in overlapping windows and the most alarming window counts, so a
40,000-character answer is covered and costs time linear in its length.
"""

from __future__ import annotations

import itertools
import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bot.policy.concepts import word_tokens
from bot.policy.features import Hasher
from bot.policy.policy import HARD_LIMIT_IDS

DEFAULT_MODEL_PATH = Path(__file__).resolve().parent / "model" / "classifier.npz"
WINDOW_CHARS = 2_000
WINDOW_STRIDE = 1_600
MAX_CHARS = 200_000  # beyond this only the head and tail are read (bounded time)
HARD_SHARE = 0.35  # share of the violation mass on hard limits that makes the call hard
_TOKEN = re.compile(r"\w+")
# from this length on, a text's words come from the code-point table (word_tokens), and
# from this many distinct words on, example overlaps from the incidence matrix
_LONG_TEXT = 600
_MANY_TOKENS = 64


def uncertain_band(thresholds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Edges [low, high) of the band around each threshold where the optional judge is asked
    (slot 0, "allowed", has none). Set by training and again by threshold calibration."""
    low = np.clip(thresholds - 0.2, 0.1, 1.0).astype(np.float32)
    high = np.clip(thresholds + 0.25, 0.0, 0.97).astype(np.float32)
    low[0], high[0] = 1.0, 1.0
    return low, high


@dataclass(frozen=True)
class Scores:
    """Class probabilities of one text (the max over its windows for each category)."""

    labels: tuple[str, ...]  # labels[0] == "allowed"
    probs: np.ndarray
    thresholds: np.ndarray  # decision threshold per label
    low: np.ndarray  # lower edge of the uncertain band per label
    high: np.ndarray  # upper edge of the uncertain band per label
    hard_mask: np.ndarray  # which labels are hard limits

    def top_category(self) -> tuple[str, float]:
        """The most likely category, and the probability that the text is not allowed.

        The flag decision uses P(not allowed), not the category's own share: a clear
        violation whose mass is split between two neighbours (autonomous weapons vs
        weapons development) is still a clear violation.
        """
        violation = self.probs[1:]
        i = int(np.argmax(violation)) + 1
        hard = self.hard_mask[1:]
        if not self.hard_mask[i] and hard.any():
            # red lines first: when a fair share of the violation mass is on hard limits,
            # the text is judged as the most likely hard limit, not as its restricted twin
            share = float(violation[hard].sum() / max(violation.sum(), 1e-9))
            if share >= HARD_SHARE:
                i = int(np.flatnonzero(self.hard_mask)[np.argmax(self.probs[self.hard_mask])])
        return self.labels[i], float(1.0 - self.probs[0])

    def _i(self, category: str) -> int:
        return self.labels.index(category)

    def threshold(self, category: str) -> float:
        return float(self.thresholds[self._i(category)])

    def uncertain(self, category: str) -> bool:
        i = self._i(category)
        return bool(self.low[i] <= 1.0 - self.probs[0] < self.high[i])


class Classifier:
    def __init__(
        self,
        weights: np.ndarray,
        bias: np.ndarray,
        labels: tuple[str, ...],
        thresholds: np.ndarray,
        low: np.ndarray,
        high: np.ndarray,
        group_weights: np.ndarray,
        bits: int,
        examples: dict[str, list[str]],
    ) -> None:
        # an ensemble of M linear models over the same hashed features, stacked so one
        # gather serves all: weights (2**bits, M*K) (fp32 in memory), bias (M, K),
        # group_weights (M, 3)
        self.bias = bias.reshape(-1, len(labels))
        self.n_models = self.bias.shape[0]
        self.labels = labels
        self.thresholds = thresholds
        self.low = low
        self.high = high
        self.group_weights = np.asarray(group_weights, dtype=np.float32).reshape(self.n_models, 3)
        self.hasher = Hasher(bits=bits)
        self._n_models = np.intp(self.n_models)
        self.examples = examples
        self.hard_mask = np.array([label in HARD_LIMIT_IDS for label in labels])
        self._example_index = {cat: _ExampleIndex(texts) for cat, texts in examples.items()}
        # Each feature group counts for some of the models only (a zero group weight for
        # the others; here two of three): its rows are gathered from a copy of the table
        # with only those models' columns (16 floats: one aligned 64-byte cache line per
        # row, not two), and its sums go to those models' logits. Adding nothing to the
        # others is what adding their zero-weighted sums did. The full table is not kept.
        self._rows = weights.shape[0]
        k = len(labels)
        tables: dict[tuple[int, ...], np.ndarray] = {}
        self._groups: list[tuple[np.ndarray, slice | np.ndarray, np.ndarray]] = []
        for g in range(3):
            used = tuple(np.flatnonzero(self.group_weights[:, g] != 0).tolist())
            if used not in tables:
                tables[used] = _aligned_copy(weights, used, k)
            self._groups.append(
                (tables[used], _models(used), self.group_weights[list(used), g : g + 1])
            )
        self._tables = tables

    @property
    def weights(self) -> np.ndarray:
        """The full (2**bits, M*K) table, rebuilt from the per-group copies (the columns
        of a model no group counts for are zeros: they never mattered)."""
        k = len(self.labels)
        full = np.zeros((self._rows, self.n_models * k), dtype=np.float32)
        for used, table in self._tables.items():
            for j, m in enumerate(used):
                full[:, m * k : (m + 1) * k] = table[:, j * k : (j + 1) * k]
        return full

    @classmethod
    def load(cls, path: Path | str) -> Classifier:
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["meta"]))
            if meta.get("layout") != "ensemble-v1":
                raise ValueError(f"{path}: model was trained for another feature layout")
            # fp16 on disk, fp32 in memory (the per-group copies): gathering fp16 rows
            # costs twice the time
            weights = data["weights"]
            bias = data["bias"].astype(np.float32)
            thresholds = data["thresholds"].astype(np.float32)
            low = data["low"].astype(np.float32)
            high = data["high"].astype(np.float32)
        return cls(
            weights=weights,
            bias=bias,
            labels=tuple(meta["labels"]),
            thresholds=thresholds,
            low=low,
            high=high,
            group_weights=np.array(meta["group_weights"], dtype=np.float32),
            bits=int(meta["bits"]),
            examples=meta.get("examples", {}),
        )

    def logits(self, normalised: str, names: list[set[str]] | None = None) -> np.ndarray:
        """Logits of each model of the ensemble, shape (M, K)."""
        hashed = self.hasher.hash_text(normalised, names)
        z = self.bias.copy()
        for (table, models, column), idx, scale in zip(
            self._groups, (hashed.char, hashed.word, hashed.concept), hashed.scales(), strict=True
        ):
            if len(idx) and table.shape[1]:
                # ndarray.take gathers rows several times faster than fancy indexing (same
                # rows, same order); einsum sums them (each column on its own, row by row)
                # about twice as fast as .sum(axis=0), and without a BLAS call (whose
                # threads would fight the server's own)
                summed = np.einsum("ij->j", table.take(idx, axis=0))
                z[models] += (column * scale) * summed.reshape(len(column), -1)
        return z

    def _window_logits(self, windows: list[tuple[str, list[set[str]] | None]]) -> np.ndarray:
        """`logits` of each window (a text, and its sentences' lexicon names if known),
        shape (W, M, K): the same arithmetic, on all windows in one array operation per
        step (for one text, `logits` is quicker)."""
        hashed = [self.hasher.hash_text(text, names) for text, names in windows]
        scales = np.array([h.scales() for h in hashed], dtype=np.float64)  # (W, 3)
        z = np.repeat(self.bias[np.newaxis], len(hashed), axis=0)
        for g, (table, models, column) in enumerate(self._groups):
            if not table.shape[1]:
                continue
            summed = np.zeros((len(hashed), table.shape[1]), dtype=np.float32)
            for w, h in enumerate(hashed):
                idx = (h.char, h.word, h.concept)[g]
                if len(idx):
                    summed[w] = np.einsum("ij->j", table.take(idx, axis=0))
            # a window without rows in the group adds zeros: what skipping it left
            weight = column[np.newaxis] * scales[:, g, np.newaxis, np.newaxis]  # (W, m, 1)
            z[:, models] += weight * summed.reshape(len(hashed), len(column), -1)
        return z

    def _probs(self, z: np.ndarray) -> np.ndarray:
        """The ensemble's probabilities from its logits (..., M, K): the mean of its
        models' softmaxes, (..., K)."""
        # the ufunc reductions that ndarray.max, .sum and .mean call (the mean divides the
        # float32 sum by the count as an intp, in place), without their Python wrappers
        z = z - np.maximum.reduce(z, axis=-1, keepdims=True)
        e = np.exp(z)
        p = e / np.add.reduce(e, axis=-1, keepdims=True)
        mean = np.add.reduce(p, axis=-2)
        np.true_divide(mean, self._n_models, out=mean, casting="unsafe")
        return mean

    def score(
        self,
        normalised: str,
        kind: str = "request",
        spans: list[tuple[int, int, set[str]]] | None = None,
    ) -> Scores:
        """Class probabilities; `spans` is the text's lexicon split, when already known.

        A text longer than one window is cut at sentence ends into windows of at most
        WINDOW_CHARS (a sentence longer than that is cut by characters), each window is
        scored once, and the most alarming window counts: cost stays linear in length.
        """
        text = normalised
        if len(text) > MAX_CHARS:
            text = text[: MAX_CHARS // 2] + " " + text[-MAX_CHARS // 2 :]
            spans = None
        if spans is None:
            spans = self.hasher.lexicon.split_spans(text)
        if len(text) <= WINDOW_CHARS:
            probs = self._probs(self.logits(text, [names for _, _, names in spans]))
        else:
            all_probs = self._probs(self._window_logits(self._windows(text, spans)))
            probs = np.maximum.reduce(all_probs, axis=0)
            probs[0] = np.minimum.reduce(all_probs[:, 0])
        return Scores(self.labels, probs, self.thresholds, self.low, self.high, self.hard_mask)

    def _windows(
        self, text: str, spans: list[tuple[int, int, set[str]]]
    ) -> list[tuple[str, list[set[str]] | None]]:
        windows: list[tuple[str, list[set[str]] | None]] = []
        start, end, names = -1, -1, []  # the window being filled
        for s_start, s_end, s_names in spans:
            if s_end - s_start > WINDOW_CHARS:  # one huge sentence: cut it by characters
                if start >= 0:
                    windows.append((text[start:end], names))
                    start, names = -1, []
                for i in range(s_start, s_end, WINDOW_STRIDE):
                    windows.append((text[i : min(i + WINDOW_CHARS, s_end)], None))
                continue
            if start >= 0 and s_end - start > WINDOW_CHARS:
                windows.append((text[start:end], names))
                start, names = -1, []
            if start < 0:
                start = s_start
            end = s_end
            names.append(s_names)
        if start >= 0:
            windows.append((text[start:end], names))
        return windows or [(text[:WINDOW_CHARS], None)]

    def evidence(self, normalised: str, category: str, scores: Scores) -> tuple[str, ...]:
        """The nearest training examples of `category` (word overlap), for the audit."""
        index = self._example_index.get(category)
        if index is None:
            return ()
        head = normalised[: WINDOW_CHARS * 4]
        tokens = set(word_tokens(head) if len(head) >= _LONG_TEXT else _TOKEN.findall(head))
        return tuple(f"like: {t[:140]}" for t in index.nearest(tokens, 2))


def _aligned_copy(weights: np.ndarray, models: tuple[int, ...], k: int) -> np.ndarray:
    """The columns of `models` (k each) of `weights`, as fp32, starting on a cache-line
    boundary; copied model by model (no fp16 temporary the allocator would keep)."""
    size = weights.shape[0] * len(models) * k
    buf = np.empty(size + 16, dtype=np.float32)
    start = (-buf.ctypes.data % 64) // buf.itemsize
    table = buf[start : start + size].reshape(weights.shape[0], len(models) * k)
    for j, m in enumerate(models):
        table[:, j * k : (j + 1) * k] = weights[:, m * k : (m + 1) * k]
    return table


def _models(used: tuple[int, ...]) -> slice | np.ndarray:
    """Rows of the logits for the models `used`: a slice (a view) when evenly spaced."""
    steps = {b - a for a, b in itertools.pairwise(used)}
    if used and len(steps) <= 1:
        return slice(used[0], used[-1] + 1, steps.pop() if steps else 1)
    return np.array(used, dtype=np.intp)


class _ExampleIndex:
    """One category's examples, with a token-by-example incidence matrix.

    `nearest` ranks by Jaccard overlap, highest first and ties in example order (as a
    stable sort of every example would); for a text with many words the overlaps with
    every example come from one numpy sum over the rows of its words that occur in some
    example, for one with few from the postings of those words.
    """

    def __init__(self, texts: list[str]) -> None:
        self.texts = texts
        token_sets = [set(_TOKEN.findall(t)) for t in texts]
        self.sizes = np.array([len(toks) for toks in token_sets], dtype=np.int64)
        self.vocab: dict[str, int] = {}
        for toks in token_sets:
            for tok in sorted(toks):
                self.vocab.setdefault(tok, len(self.vocab))
        self.known = frozenset(self.vocab)
        self.incidence = np.zeros((len(self.vocab), len(texts)), dtype=np.uint8)
        for j, toks in enumerate(token_sets):
            self.incidence[[self.vocab[tok] for tok in toks], j] = 1
        self.postings: dict[str, list[int]] = {}
        for j, toks in enumerate(token_sets):
            for tok in toks:
                self.postings.setdefault(tok, []).append(j)

    def nearest(self, tokens: set[str], n: int) -> list[str]:
        if len(tokens) < _MANY_TOKENS:  # a short text: its few postings, one by one
            return self._nearest_few(tokens, n)
        rows = list(map(self.vocab.__getitem__, tokens & self.known))
        size = len(tokens)
        if rows:
            # ndarray.take: the same rows as indexing with the list, faster (integer sums)
            inter = self.incidence.take(rows, axis=0).sum(axis=0, dtype=np.int64)
        else:
            inter = np.zeros(len(self.texts), dtype=np.int64)
        shared = np.flatnonzero(inter)
        # the same float64 quotients as int / int in Python; a stable sort of the negated
        # overlaps keeps ties in example order
        jaccard = inter[shared] / (size + self.sizes[shared] - inter[shared])
        best = shared[np.argsort(-jaccard, kind="stable")[:n]].tolist()
        # then the examples sharing nothing (overlap 0), in order; an empty union is no match
        if len(best) < n:
            for j in np.flatnonzero((inter == 0) & (size + self.sizes > 0)).tolist():
                if len(best) >= n:
                    break
                best.append(j)
        return [self.texts[j] for j in best]

    def _nearest_few(self, tokens: set[str], n: int) -> list[str]:
        shared: dict[int, int] = {}
        for tok in tokens:
            for j in self.postings.get(tok, ()):
                shared[j] = shared.get(j, 0) + 1
        size = len(tokens)
        sizes = self.sizes.tolist()
        ranked = sorted((-(inter / (size + sizes[j] - inter)), j) for j, inter in shared.items())
        best = [j for _, j in ranked[:n]]
        # then the examples sharing nothing (overlap 0), in order; an empty union is no match
        for j, sz in enumerate(sizes):
            if len(best) >= n:
                break
            if j not in shared and size + sz:
                best.append(j)
        return [self.texts[j] for j in best]
