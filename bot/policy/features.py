"""Featurisation shared by training (scripts/train_classifier.py) and inference: numpy only.

A normalised text becomes the set of hashed feature indices (presence, not counts, so
repeating a sentence does not inflate its weight) in groups, each scaled by
1/sqrt(number of distinct features in the group), i.e. L2-normalised binary vectors:

- character n-grams (n = 2..5) over the whole text, spaces included: they survive
  spelling tricks and carry Chinese and Russian, which have no useful word split here;
- word unigrams and bigrams;
- intent crosses: each word paired with the intent markers present in the text
  ("ask" = an operational request, "discuss" = history/ethics/law/news framing,
  "defend" = detection/protection framing), so the model can learn that "sarin" under
  an ask is not "sarin" under a history question, which a bag of words cannot;
- concept features (bot/policy/concepts.py): multilingual concept lexicons crossed with
  the intent markers and with each other, whole-text and per sentence.

Hashing is a polynomial rolling hash over code points in wrapping uint64 arithmetic,
vectorised, deterministic across processes (no Python `hash`).
"""

from __future__ import annotations

import itertools
import math
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from bot.policy.concepts import (
    INTENTS,
    LEXICON,
    STRONG,
    Lexicon,
    concept_tokens,
    word_char_table,
)

CHAR_NGRAMS = (2, 3, 4, 5)
_BASE = np.uint64(1_000_003)
_MIX = np.uint64(0x9E3779B97F4A7C15)
_SALT = {
    "char": np.uint64(0x1F3D5B79),
    "word": np.uint64(0x2A4C6E81),
    "bigram": np.uint64(0x3B5D7F92),
    "ask": np.uint64(0x4C6E80A3),
    "discuss": np.uint64(0x5D7F91B4),
    "defend": np.uint64(0x6E80A2C5),
}

def _distinct(x: np.ndarray) -> np.ndarray:
    """Sorted distinct values (np.unique's hash path is slow on small int arrays).

    Indices are below 2**bits <= 2**31, so they are sorted as int32, which is about
    twice as fast as int64; the result is int64, as before.
    """
    if len(x) < 2:
        return x
    x = x.astype(np.int32)
    x.sort()
    return _first_of_runs(x)


def _first_of_runs(x: np.ndarray) -> np.ndarray:
    """The first element of each run of equal values of `x` (len >= 2), as int64."""
    keep = np.empty(len(x), dtype=bool)
    keep[0] = True
    np.not_equal(x[1:], x[:-1], out=keep[1:])  # what concatenating [True] would give
    # x.compress: the same elements as boolean indexing, in about half the time
    return x.compress(keep).astype(np.int64)


def _distinct_indices(h: np.ndarray) -> np.ndarray:
    """`_distinct` of hashed indices still held as uint64 (all below 2**31)."""
    if len(h) < 2:
        return h.astype(np.int64)
    x = h.astype(np.int32)
    x.sort()
    return _first_of_runs(x)


# Chinese is written without spaces, so a run of word characters there is a whole clause:
# as a word it would be a feature seen once (noise in its group's norm). Each Han
# character is a word of its own instead, so words, bigrams and intent crosses carry
# Chinese too ("毒" under an ask, not under a history question).
_HAN_FIRST = 0x3400


def _word_bounds_han(cps: np.ndarray, is_word: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(starts, ends) of the words of a padded text, each Han character a word alone."""
    han = ((cps >= _HAN_FIRST) & (cps <= 0x9FFF)) | ((cps >= 0xF900) & (cps <= 0xFAFF))
    han &= is_word
    prev_word, here_word = is_word[:-1], is_word[1:]
    cut = han[1:] | han[:-1]  # a boundary on either side of a Han character
    starts = (here_word & (~prev_word | cut)).nonzero()[0] + 1
    ends = (prev_word & (~here_word | cut)).nonzero()[0] + 1
    return starts, ends


@dataclass(frozen=True)
class HashedText:
    """Distinct feature indices of one text, by group."""

    char: np.ndarray
    word: np.ndarray  # unigrams, bigrams and intent crosses together
    concept: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    def scales(self) -> tuple[float, float, float]:
        # math.sqrt rounds as np.sqrt does; kept np.float64 (not a Python float), which
        # fixes the precision of the products the classifier forms with them
        return (
            np.float64(1.0 / math.sqrt(max(len(self.char), 1))),
            np.float64(1.0 / math.sqrt(max(len(self.word), 1))),
            np.float64(1.0 / math.sqrt(max(len(self.concept), 1))),
        )


class Hasher:
    """Maps normalised text to hashed feature indices in [0, 2**bits)."""

    def __init__(self, bits: int = 18, max_chars: int = 1 << 16) -> None:
        self.bits = bits
        self._shift = np.uint64(64 - bits)
        self._max = max_chars
        # powers of the base and of its inverse (it is odd, so invertible mod 2**64)
        inv = pow(int(_BASE), -1, 1 << 64)
        with np.errstate(over="ignore"):
            self._pow = np.cumprod(np.full(max_chars + 1, _BASE, dtype=np.uint64))
            self._pow = np.concatenate(([np.uint64(1)], self._pow[:-1]))
            self._ipow = np.cumprod(np.full(max_chars + 1, np.uint64(inv), dtype=np.uint64))
            self._ipow = np.concatenate(([np.uint64(1)], self._ipow[:-1]))
        # word characters (the table covers two planes; hashing counts only BMP ones)
        self._wordchar = word_char_table()
        self.lexicon = Lexicon()
        self._concept_memo: dict[tuple[int, frozenset[int]], np.ndarray] = {}
        self._concept_table = _ConceptTable(
            [name for name in LEXICON if name not in INTENTS], self._token_index
        )

    # No np.errstate around the hashing: numpy never checks integer *array* arithmetic for
    # overflow (uint64 wraps silently), and entering the context costs more than the
    # arithmetic on a short message.
    def hash_text(self, text: str, sentence_names: list[set[str]] | None = None) -> HashedText:
        """Features of `text`; `sentence_names` may pass in its lexicon split, if known."""
        text = text[: self._max - 2]
        cps = np.frombuffer((" " + text + " ").encode("utf-32-le"), dtype=np.uint32)
        c = cps.astype(np.uint64)
        n = len(c)
        # rolling: the k-gram hashes are the (k-1)-gram ones times the base plus the next
        # code point (exact in wrapping uint64), so each n costs one pass; written straight
        # into one buffer (what concatenating the n-gram arrays would give), then indexed in
        # place
        total = sum(n - k + 1 for k in CHAR_NGRAMS if n >= k)
        chars = np.empty(total, dtype=np.uint64)
        at = 0
        h = c
        for k in range(2, CHAR_NGRAMS[-1] + 1):
            if n < k:
                break
            h = h[:-1] * _BASE + c[k - 1 :]
            if k in CHAR_NGRAMS:
                np.add(h, np.uint64(k), out=chars[at : at + len(h)])
                at += len(h)
        if total:
            chars ^= _SALT["char"]
            chars *= _MIX
            chars >>= self._shift
            char_idx = _distinct_indices(chars)
        else:
            char_idx = np.zeros(0, dtype=np.int64)

        # words: maximal runs of word characters (of the BMP: the table covers more), each
        # Han character a word alone
        # (ndarray.take: the same elements as indexing with the array, faster)
        top = cps.max()
        if top <= 0xFFFF:
            is_word = self._wordchar.take(cps)
        else:
            is_word = self._wordchar.take(np.minimum(cps, 0xFFFF)) & (cps <= 0xFFFF)
        if top >= _HAN_FIRST:
            starts, ends = _word_bounds_han(cps, is_word)
        else:
            flags = is_word.view(np.int8)
            edges = flags[1:] - flags[:-1]
            # ndarray.nonzero: what np.flatnonzero returns for a 1-d array, without its
            # wrapper
            starts = (edges == 1).nonzero()[0] + 1
            ends = (edges == -1).nonzero()[0] + 1
        if sentence_names is None:
            sentence_names = self.lexicon.sentences(text)
        concept = self._concepts(sentence_names)
        present = set().union(*sentence_names) if sentence_names else set()
        nw = len(starts)
        if nw == 0:
            return HashedText(char_idx, np.zeros(0, dtype=np.int64), concept)
        prefix = np.concatenate(([np.uint64(0)], np.cumsum(c * self._pow[:n])))
        wh = (prefix.take(ends) - prefix.take(starts)) * self._ipow.take(starts)
        wh += (ends - starts).astype(np.uint64)
        # the salted word, bigram and intent-cross hashes written into one buffer (what
        # concatenating their `_index` arrays would hold), then indexed in place
        intents = [_SALT[name] for name in INTENTS if name in present]
        words = np.empty(nw * (1 + len(intents)) + nw - 1, dtype=np.uint64)
        np.bitwise_xor(wh, _SALT["word"], out=words[:nw])
        at = nw
        if nw > 1:
            bh = wh[:-1] * _MIX
            bh += wh[1:]
            np.bitwise_xor(bh, _SALT["bigram"], out=words[at : at + nw - 1])
            at += nw - 1
        for salt in intents:
            np.bitwise_xor(wh, salt, out=words[at : at + nw])
            at += nw
        words *= _MIX
        words >>= self._shift
        return HashedText(char_idx, _distinct_indices(words), concept)

    def _concepts(self, sentence_names: list[set[str]]) -> np.ndarray:
        # The distinct indices depend only on the names in the whole text and on the
        # distinct name sets of its ask-only sentences (what concept_tokens reads), which
        # take few values: memoised on those, as bit masks (cheaper to build than sets).
        table = self._concept_table
        bit, ask, framed = table.bit, table.ask, table.framed
        everything = 0
        ask_only: set[int] = set()
        try:
            for names in sentence_names:
                if names:
                    mask = sum(map(bit.__getitem__, names))  # distinct bits: the sum is the or
                    everything |= mask
                    if mask & ask and not mask & framed:  # neither discussed nor defended
                        ask_only.add(mask)
        except KeyError:  # a name the lexicon does not define: the readable definition
            found = [self._token_index(t) for t in concept_tokens(sentence_names)]
            return _distinct(np.array(found, dtype=np.int64)) if found else np.zeros(0, np.int64)
        key = (everything, frozenset(ask_only))
        hit = self._concept_memo.get(key)
        if hit is not None:
            return hit
        idx = table.indices(everything, ask_only)
        idx.flags.writeable = False  # shared by every text with this key
        if len(self._concept_memo) >= 50_000:
            self._concept_memo.clear()
        self._concept_memo[key] = idx
        return idx

    def _token_index(self, token: str) -> int:
        return (zlib.crc32(token.encode()) * 2654435761) & ((1 << self.bits) - 1)


_NEVER = 1 << 62  # a bit no name mask has: a token's condition of the kind it is not


class _ConceptTable:
    """Every token `concept_tokens` can give, hashed once, with the names that make it
    present, so a text's indices are picked out by a few array operations instead of its
    tokens being built, looked up and hashed one by one.

    Names are bits of a mask: the concepts (sorted: the order `concept_tokens` pairs them
    in) from bit 0, the intents after them. A whole-text token ("I:ask", "C:cbrn|ask",
    "C:cbrn&person") is present when the text's mask holds all of its bits; an ask-only
    one ("S:cbrn&person|ask_only") when the mask of an ask-only sentence does.
    """

    def __init__(self, concepts: list[str], index: Callable[[str], int]) -> None:
        names = sorted(concepts)
        self.bit = {c: 1 << k for k, c in enumerate(names)}
        self.bit.update({i: 1 << (len(names) + k) for k, i in enumerate(INTENTS)})
        self.ask = self.bit["ask"]
        self.framed = self.bit["discuss"] | self.bit["defend"]
        singles = [(c, self.bit[c]) for c in names]
        pairs = [
            (f"{a}&{b}", self.bit[a] | self.bit[b]) for a, b in itertools.combinations(names, 2)
        ]
        whole: dict[str, int] = {f"I:{i}": self.bit[i] for i in INTENTS}
        for name, bits in [(c, bits) for c, bits in singles if c in STRONG] + pairs:
            whole[f"C:{name}"] = bits
            whole.update({f"C:{name}|{i}": bits | self.bit[i] for i in INTENTS})
        asked = {f"S:{name}|ask_only": bits for name, bits in singles + pairs}
        slots = [(index(t), bits, _NEVER) for t, bits in whole.items()]
        slots += [(index(t), _NEVER, bits) for t, bits in asked.items()]
        slots.sort()  # by index, so the indices picked out come sorted
        self._index = np.array([i for i, _, _ in slots], dtype=np.int64)
        self._whole = np.array([w for _, w, _ in slots], dtype=np.int64)
        self._asked = np.array([a for _, _, a in slots], dtype=np.int64)
        self._collide = bool((self._index[1:] == self._index[:-1]).any())  # two tokens, one index

    def indices(self, everything: int, ask_only: set[int]) -> np.ndarray:
        """The sorted distinct indices of `concept_tokens` of sentences whose names have
        the masks: `everything` all of them together, `ask_only` those of the ask-only
        sentences."""
        present = (self._whole & everything) == self._whole
        if ask_only:
            masks = np.array(list(ask_only), dtype=np.int64)[:, None]
            present |= ((self._asked & masks) == self._asked).any(axis=0)
        idx = self._index.compress(present)
        return _first_of_runs(idx) if self._collide and len(idx) > 1 else idx
