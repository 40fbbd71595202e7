"""Featurisation shared by training (scripts/train_classifier.py) and inference: numpy only.

A normalised text becomes hashed feature indices in three groups, each scaled by
1/sqrt(group size) (an L2-like normalisation that needs no counting):

- character n-grams (n = 2..5) over the whole text, spaces included: they survive
  spelling tricks and carry Chinese and Russian, which have no useful word split here;
- word unigrams and bigrams;
- intent crosses: each word paired with the intent markers present in the text
  ("ask" = an operational request, "discuss" = history/ethics/law/news framing,
  "defend" = detection/protection framing), so the model can learn that "sarin" under
  an ask is not "sarin" under a history question, which a bag of words cannot.

Hashing is a polynomial rolling hash over code points in wrapping uint64 arithmetic,
vectorised, deterministic across processes (no Python `hash`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

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

# Intent markers, several languages. Broad on purpose: they only create cross features;
# the model learns from data how much each cross matters.
INTENT_PATTERNS: dict[str, re.Pattern[str]] = {
    "ask": re.compile(
        r"\b(how (do|can|would|could|to|should|much|many)|give me|tell me|show me|write|"
        r"create|build|design|code|program|implement|develop|make|help me|i need|i want|"
        r"we need|we want|provide|list|walk me through|step[- ]by[- ]step|steps|"
        r"instructions|guide|recipe|plan|script|function|pipeline|can you|could you|"
        r"please|detailed|exact|specific|optimi[sz]e|improve|maximi[sz]e|deploy|set up|"
        r"generate|draft|acquire|buy|get|bypass|evade|without (being )?(detected|traced)|"
        r"cómo|como|dame|escribe|necesito|comment|donne|écris|je veux|wie|gib|schreib|"
        r"ich brauche|как|дай|напиши|нужно|сделать|помоги)\b|如何|怎么|怎样|帮我|请|给我|步骤"
    ),
    "discuss": re.compile(
        r"\b(history|historical|ethic\w*|moral\w*|debate\w*|treaty|treaties|convention|"
        r"arms control|non-?proliferation|law|laws|legal\w*|legislation|regulat\w*|policy|"
        r"policies|oversight|news|article|essay|report|documentary|novel|journalis\w*|why|"
        r"what (is|are|was|were)|explain|overview|summar\w*|analy[sz]\w*|compare|impact|"
        r"risks?|consequences|opinion|argue|arguments?|pros and cons|human rights|"
        r"civil liberties|privacy|court|ruling|accountab\w*|research|paper|lecture|"
        r"class|course|student|teach\w*|definition|meaning|mean|historia|ética|ley|"
        r"histoire|éthique|loi|geschichte|ethik|gesetz|история|этик\w*|закон\w*|"
        r"почему)\b|历史|伦理|法律|为什么|讨论|政策"
    ),
    "defend": re.compile(
        r"\b(detect\w*|defen[cs]\w*|protect\w*|prevent\w*|mitigat\w*|secur(e|ing)|"
        r"harden\w*|counter\w*|patch\w*|monitor our own|our own|my own|incident response|"
        r"awareness|training|safety|safeguard\w*|compliance|audit\w*|block\w*|"
        r"recogni[sz]e the signs|warning signs|spot|avoid|protección|protéger|schützen|"
        r"защит\w*)\b|防御|防护|检测"
    ),
}


@dataclass(frozen=True)
class HashedText:
    """Feature indices of one text, by group (indices may repeat: counts add up)."""

    char: np.ndarray
    word: np.ndarray  # unigrams, bigrams and intent crosses together

    def scales(self) -> tuple[float, float]:
        return (
            1.0 / np.sqrt(max(len(self.char), 1)),
            1.0 / np.sqrt(max(len(self.word), 1)),
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
        # word characters among the BMP code points
        table = np.zeros(0x10000, dtype=bool)
        for cp in range(0x10000):
            ch = chr(cp)
            table[cp] = ch.isalnum() or ch == "_"
        self._wordchar = table

    def _index(self, h: np.ndarray, salt: np.uint64) -> np.ndarray:
        with np.errstate(over="ignore"):
            mixed = (h ^ salt) * _MIX
        return (mixed >> self._shift).astype(np.int64)

    def hash_text(self, text: str) -> HashedText:
        text = text[: self._max - 2]
        cps = np.frombuffer((" " + text + " ").encode("utf-32-le"), dtype=np.uint32)
        c = cps.astype(np.uint64)
        n = len(c)
        chars = []
        with np.errstate(over="ignore"):
            for k in CHAR_NGRAMS:
                if n < k:
                    continue
                h = c[: n - k + 1].copy()
                for j in range(1, k):
                    h = h * _BASE + c[j : n - k + 1 + j]
                h = h + np.uint64(k)
                chars.append(self._index(h, _SALT["char"]))
        char_idx = np.concatenate(chars) if chars else np.zeros(0, dtype=np.int64)

        # words: maximal runs of word characters
        bmp = np.minimum(cps, 0xFFFF)
        is_word = self._wordchar[bmp] & (cps <= 0xFFFF)
        edges = np.diff(is_word.astype(np.int8))
        starts = np.flatnonzero(edges == 1) + 1
        ends = np.flatnonzero(edges == -1) + 1
        if len(starts) == 0:
            return HashedText(char_idx, np.zeros(0, dtype=np.int64))
        with np.errstate(over="ignore"):
            prefix = np.concatenate(([np.uint64(0)], np.cumsum(c * self._pow[:n])))
            wh = (prefix[ends] - prefix[starts]) * self._ipow[starts]
            wh = wh + (ends - starts).astype(np.uint64)
            words = [self._index(wh, _SALT["word"])]
            if len(wh) > 1:
                bh = wh[:-1] * _MIX + wh[1:]
                words.append(self._index(bh, _SALT["bigram"]))
            for name, pattern in INTENT_PATTERNS.items():
                if pattern.search(text):
                    words.append(self._index(wh, _SALT[name]))
        return HashedText(char_idx, np.concatenate(words))
