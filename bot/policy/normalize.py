"""Text normalisation before rules and classifier: undo the cheap disguises.

What it undoes, in order: Slack markup (mentions, links, channel refs, code fences, bold
and italic markers, HTML entities), Unicode compatibility forms (NFKC: full-width letters,
ligatures, math alphabets), invisible format characters (zero-width, bidi controls, soft
hyphens), traditional Chinese characters (to simplified ones), Cyrillic/Greek look-alikes
inside Latin words, leetspeak inside words
("s4r1n"), letter-by-letter spacing ("a u t o n o m o u s"), and base64 blobs that decode
to readable text (the decoded text is appended). The result is lower-cased with single
spaces. It never raises on a str.
"""

from __future__ import annotations

import base64
import binascii
import html
import json
import re
import unicodedata
from collections.abc import Callable
from pathlib import Path

import numpy as np

from bot.policy.concepts import (
    TABLE_SIZE,
    WHOLE_TEXT_MIN,
    _char_table,
    _flags,
    _starter,
    code_points,
    hot_tokens,
    replace_chars,
    splice,
)

# Slack's angle-bracket markup: <@U123>, <@U123|name>, <#C123|general>, <!here>, <url|label>
_SLACK_USER = re.compile(r"<@([UW][A-Z0-9]+)(?:\|([^>]*))?>")
_SLACK_CHANNEL = re.compile(r"<#([CGD][A-Z0-9]+)(?:\|([^>]*))?>")
_SLACK_SPECIAL = re.compile(r"<!([a-z]+)(?:\^[^>|]*)?(?:\|([^>]*))?>")
_SLACK_LINK = re.compile(r"<((?:https?|mailto|ftp)[^>|\s]*)(?:\|([^>]*))?>")
_CODE_FENCE = re.compile(r"```[a-zA-Z0-9_+-]*\n?")
# underscores at the start of a word (at the text start or after a space) or at its end
# (before a space, punctuation or the text end); every branch starts with a literal "_",
# so `re` scans for it instead of trying each position
_EDGE_UNDERSCORE = re.compile(r"_(?<![^ ]_)_*|_+(?=[ .,!?;:]|$)")

# Unicode "format" characters that render as nothing: zero-width, joiners, bidi controls.
_INVISIBLE = {
    ord(c): None
    for c in (
        "\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180e\u200b\u200c\u200d\u200e\u200f"
        "\u202a\u202b\u202c\u202d\u202e\u2060\u2061\u2062\u2063\u2064\u2066\u2067\u2068"
        "\u2069\u206a\u206b\u206c\u206d\u206e\u206f\u3164\ufeff\uffa0"
    )
}

# Unicode format characters (category Cf), as ranges: invisible, so they go too; one
# class with the ones above, so one pass removes both
_INVISIBLE_OR_FORMAT = re.compile(
    "[" + "".join(chr(c) for c in _INVISIBLE)
    + "\u00ad\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2\u180e\u200b-\u200f"
    "\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb\U000110bd\U000110cd"
    "\U00013430-\U0001343f\U0001bca0-\U0001bca3\U0001d173-\U0001d17a\U000e0001"
    "\U000e0020-\U000e007f]"
)
_QUOTES = (("\u2018", "'"), ("\u2019", "'"), ("\u201c", '"'), ("\u201d", '"'), ("\u00b4", "'"))

# Cyrillic and Greek letters that look like Latin ones (lower case after casefold).
_HOMOGLYPHS = str.maketrans(
    {
        "а": "a", "в": "b", "е": "e", "ё": "e", "к": "k", "м": "m", "н": "h", "о": "o",
        "р": "p", "с": "c", "т": "t", "у": "y", "х": "x", "ѕ": "s", "і": "i", "ї": "i",
        "ј": "j", "ԁ": "d", "ԛ": "q", "ԝ": "w", "һ": "h", "ɡ": "g", "ӏ": "l", "ѵ": "v",
        "α": "a", "β": "b", "ε": "e", "η": "n", "ι": "i", "κ": "k", "ν": "v", "ο": "o",
        "ρ": "p", "τ": "t", "υ": "u", "χ": "x", "γ": "y", "ω": "w", "μ": "u", "ѡ": "w",
        "ı": "i", "ℓ": "l",
    }
)
_LOOKALIKE_CHARS = frozenset("авеёкмнорстухѕіїјԁԛԝһɡӏѵαβεηικνορτυχγωμѡıℓ")
_LOOKALIKE_CLASS = "[" + "".join(sorted(_LOOKALIKE_CHARS)) + "]"
# a look-alike letter after or before a Latin one; the pattern starts on the look-alike
# (a lookbehind checks the Latin letter before it), so `re` only tries those positions
# (one class up front, not two branches: `re` skips ahead on a leading class only)
_MIXED_HINT = re.compile(_LOOKALIKE_CLASS + "(?:(?<=[a-z].)|(?=[a-z]))")

_LEET = str.maketrans(
    {"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "8": "b", "@": "a",
     "$": "s", "!": "i", "|": "l", "€": "e", "+": "t"}
)
_LEET_CHARS = frozenset("013457 8@$!|€+".replace(" ", ""))
# tokens whose trailing digits are a real name, not leetspeak
_TECH_SUFFIX = re.compile(
    r"^(?:python|mp|ipv|web|s|ec|h|sha|md|utf|base|x|win|ps|py|html|css|es|gpt|llama|"
    r"qwen|covid|b|f|k|p|m|ak|ar|m|mk|t|a|v|su|mig|js|node|php|net|db|v|level|day|"
    r"room|step|phase|tier|top)\d+$"
)
_WORDISH = re.compile(r"[^\s]+")
# a letter next to a leet character: the only texts worth the per-token pass; the pattern
# starts on the leet character (a lookbehind checks the letter before it), so `re` only
# tries those positions (the second branch is for the leet characters other than "!+")
_LEET_HINT = re.compile(
    r"[0134578@$!|€+](?:(?<=[^\W\d_].)|(?<=[0134578@$€|])(?=[^\W\d_]))"
)
# letter-by-letter spacing: at least four single letters joined by one separator
_B64 = re.compile(r"(?<![A-Za-z0-9+/=])[A-Za-z0-9+/]{20,}={0,2}(?![A-Za-z0-9+/=])")


def _traditional_fold() -> tuple[frozenset[str], dict[int, int]]:
    """Traditional Chinese characters and their simplified forms (scripts/make_t2s_table.py)."""
    table = json.loads((Path(__file__).parent / "model" / "t2s.json").read_text(encoding="utf-8"))
    traditional, simplified = table["traditional"], table["simplified"]
    return frozenset(traditional), str.maketrans(traditional, simplified)


# Text from Taiwan, Hong Kong and Cantonese speakers shares the simplified n-grams and
# lexicon entries this way (the training set is almost all simplified). Few texts need
# it, so it is only applied after a cheap test (a set for short texts, a code-point table
# for long ones: a regex class of 3,216 characters costs ~60 ns a character).
_TRADITIONAL, _TO_SIMPLIFIED = _traditional_fold()
_TRADITIONAL_TABLE = _char_table(c for c in _TRADITIONAL if ord(c) < TABLE_SIZE)


def _fold_traditional(text: str) -> str:
    """`text.translate(_TO_SIMPLIFIED)`, cheaply: a short text is tested with the set first,
    and a long one has only its traditional characters replaced (str.translate looks
    every character of a non-ASCII text up in the map: ~0.2 ms for 4 KB)."""
    if len(text) < WHOLE_TEXT_MIN // 2:
        return text if _TRADITIONAL.isdisjoint(text) else text.translate(_TO_SIMPLIFIED)
    flags = _flags(code_points(text), _TRADITIONAL_TABLE, _TRADITIONAL.__contains__)
    at = np.flatnonzero(flags).tolist()
    if not at:
        return text
    forms = [chr(_TO_SIMPLIFIED[ord(text[a])]) for a in at]
    return replace_chars(text, at, forms)


# two or more spaces or tabs between two other characters; the pattern starts on the
# first space (a lookbehind checks the character before it), so `re` skips ahead to spaces
_WIDE_GAP = re.compile(r"[ \t](?<=\S[ \t])[ \t]+(?=\S)")
_GAP_MARK = "\u2063"  # invisible separator: neither a letter nor white space


def _is_letter(ch: str) -> bool:
    """What `[^\\W\\d_]` matches."""
    return ch.isalnum() and not ch.isdecimal()


def _is_invisible(ch: str) -> bool:
    return _INVISIBLE_OR_FORMAT.match(ch) is not None


def _is_b64(ch: str) -> bool:
    return ch.isascii() and (ch.isalnum() or ch in "+/")


def _table(test: Callable[[str], bool]) -> np.ndarray:
    table = np.array([test(chr(cp)) for cp in range(TABLE_SIZE)], dtype=bool)
    table.flags.writeable = False
    return table


def _is_lookalike(ch: str) -> bool:
    return ch in _LOOKALIKE_CHARS


def _is_other_space(ch: str) -> bool:
    """White space for str.split() other than the plain space."""
    return ch.isspace() and ch != " "


_LETTER_CHARS = _table(_is_letter)
_LOOKALIKE_TABLE = _table(_is_lookalike)
_OTHER_SPACE_TABLE = _table(_is_other_space)
_INVISIBLE_TABLE = _table(_is_invisible)
_B64_CHARS = _table(_is_b64)


def _any_char(text: str, table: np.ndarray, test: Callable[[str], bool]) -> bool:
    return bool(_flags(code_points(text), table, test).any())


def _nfkc_may_change(ch: str) -> bool:
    """Whether NFKC can change `ch` or join it to what comes before it.

    A character that NFKC keeps as it is ("é", "й": they decompose, but compose back) is
    safe when its decomposition starts with a starter that composes with nothing before
    it: then NFKC of a run of such characters is the run itself.
    """
    if not _starter(ch):
        return True
    if unicodedata.decomposition(ch) == "":
        return False
    if unicodedata.normalize("NFKC", ch) != ch:
        return True
    return not _starter(unicodedata.normalize("NFKD", ch)[0])


_NFKC_TABLE = _table(_nfkc_may_change)


def _nfkc_alone(ch: str) -> bool:
    """Whether NFKC changes `ch` the same way wherever it stands (full-width "，", "ａ",
    "…"): a starter that joins to nothing before it, whose decomposition starts with
    one, and whose NFKC form is starters that join to nothing before them and that NFKC
    keeps. Its neighbours are then normalised as if it were not there, and it as if they
    were not: so a text whose only characters NFKC can change are such is normalised
    character by character."""
    if not _nfkc_may_change(ch) or not _starter(ch):
        return False
    form = unicodedata.normalize("NFKC", ch)
    return (
        form != ch
        and _starter(unicodedata.normalize("NFKD", ch)[0])
        and all(_starter(c) for c in form)
        and unicodedata.normalize("NFKC", form) == form
    )


# characters NFKC changes the same way wherever they stand, and what it makes of them
_NFKC_ALONE: dict[str, str] = {
    chr(cp): unicodedata.normalize("NFKC", chr(cp))
    for cp in np.flatnonzero(_NFKC_TABLE).tolist()
    if _nfkc_alone(chr(cp))
}
_NFKC_ALONE_TABLE = _char_table(_NFKC_ALONE)


def _nfkc(text: str) -> str:
    """unicodedata.normalize("NFKC", text), on the characters or tokens that need it.

    When every character NFKC can change is one it changes the same way anywhere (the
    full-width punctuation of Chinese text, mostly), only those are replaced. Otherwise
    only the space-separated tokens holding one are normalised: NFKC never reaches
    across a space (U+0020 is never decomposed or composed with), so a token none of
    whose characters can change or combine is left as it is.
    """
    if len(text) < WHOLE_TEXT_MIN:
        return unicodedata.normalize("NFKC", text)
    cps = code_points(text)
    hot = np.flatnonzero(_flags(cps, _NFKC_TABLE, _nfkc_may_change))
    if len(hot) and _flags(cps.take(hot), _NFKC_ALONE_TABLE, _nfkc_alone).all():
        at = hot.tolist()
        chars = [text[a] for a in at]  # (beyond the table: normalised one by one)
        forms = [_NFKC_ALONE.get(c) or unicodedata.normalize("NFKC", c) for c in chars]
        return replace_chars(text, at, forms)
    tokens = hot_tokens(cps, hot) if len(hot) else None
    if tokens is None:
        return unicodedata.normalize("NFKC", text)
    starts, ends = tokens
    pieces = zip(starts, ends, strict=True)
    return splice(text, starts, ends, (unicodedata.normalize("NFKC", text[a:b]) for a, b in pieces))


def _has_b64_run(text: str) -> bool:
    """Whether `text` has 20 base64 characters in a row (what a `_B64` blob needs)."""
    counts = np.cumsum(_flags(code_points(text), _B64_CHARS, _is_b64), dtype=np.int32)
    if counts[-1] < 20:
        return False
    return bool(counts[19] == 20 or (counts[20:] - counts[:-20] == 20).any())


def _b64_runs(text: str) -> list[tuple[int, int]]:
    """(start, end) of each run of 20 or more base64 characters in `text`, in order."""
    flags = np.zeros(len(text) + 2, dtype=np.int8)
    flags[1:-1] = _flags(code_points(text), _B64_CHARS, _is_b64)
    edges = flags[1:] - flags[:-1]
    starts = (edges == 1).nonzero()[0]
    ends = (edges == -1).nonzero()[0]
    long = ends - starts >= 20
    return list(zip(starts.compress(long).tolist(), ends.compress(long).tolist(), strict=True))


def strip_slack_markup(text: str) -> str:
    """Reduce Slack's markup to the words a reader sees."""
    text = _SLACK_USER.sub(lambda m: " " + (m.group(2) or "") + " ", text)
    text = _SLACK_CHANNEL.sub(lambda m: "#" + (m.group(2) or "channel"), text)
    text = _SLACK_SPECIAL.sub(lambda m: "@" + (m.group(2) or m.group(1)), text)
    text = _SLACK_LINK.sub(lambda m: m.group(2) or m.group(1), text)
    text = _CODE_FENCE.sub(" ", text)
    text = html.unescape(text)
    return text


def _fold_homoglyphs(text: str) -> str:
    """Fold look-alike letters inside tokens that mix them with Latin letters.

    "sаrіn" (Cyrillic а and і) becomes "sarin"; real Russian or Greek words, even inside
    an English sentence, are left as they are.
    """
    if text.isascii():
        return text
    if len(text) >= WHOLE_TEXT_MIN:
        # what _MIXED_HINT looks for: a look-alike right after or before an a-z letter
        cps = code_points(text)
        lookalike = _flags(cps, _LOOKALIKE_TABLE, _is_lookalike)
        latin = (cps >= 97) & (cps <= 122)
        if not ((lookalike[1:] & latin[:-1]).any() or (lookalike[:-1] & latin[1:]).any()):
            return text
    out: list[str] = []
    pos = 0
    for m in _MIXED_HINT.finditer(text):
        if m.start() < pos:
            continue
        start = text.rfind(" ", 0, m.start()) + 1
        end = text.find(" ", m.end())
        end = len(text) if end < 0 else end
        out.append(text[pos:start])
        out.append(text[start:end].translate(_HOMOGLYPHS))
        pos = end
    if not out:
        return text
    out.append(text[pos:])
    return "".join(out)


def _fold_leet_token(tok: str) -> str:
    core = tok.strip(".,;:?!'\"()[]{}<>")
    if len(core) < 3 or not any(c in _LEET_CHARS for c in core):
        return tok
    letters = sum(1 for c in core if c.isalpha())
    if letters < 2:
        return tok
    if core.isdigit() or _TECH_SUFFIX.match(core) or "://" in core or "." in core[1:-1]:
        return tok
    # "word + trailing digits" (v2, model3) is only leet with a single trailing digit
    stripped = core.rstrip("0123456789")
    if stripped.isalpha() and len(core) - len(stripped) > 1:
        return tok
    return tok.replace(core, core.translate(_LEET))


def _fold_leet(text: str) -> str:
    """Fold leetspeak in the tokens that have a letter next to a leet character."""
    out: list[str] = []
    pos = 0
    for m in _LEET_HINT.finditer(text):
        if m.start() < pos:
            continue  # inside a token already handled
        start = text.rfind(" ", 0, m.start()) + 1
        end = text.find(" ", m.end())
        end = len(text) if end < 0 else end
        out.append(text[pos:start])
        out.append(_fold_leet_token(text[start:end]))
        pos = end
    if not out:
        return text
    out.append(text[pos:])
    return "".join(out)


_SEPARATED = re.compile(r"[^\W\d_](?:[.\-_*·•]{1,2}[^\W\d_]){3,}")
# The texts _join_spaced can change: four single letters in a row, space-separated (at
# the text start, or after a space), or a _SEPARATED run. The hints start on a space or a
# separator (a lookbehind checks the letter before it), so `re` only tries those positions.
_SPACED_AT_START = re.compile(r"[^\W\d_](?: [^\W\d_]){3}(?: |$)")
_SPACED_HINT = re.compile(r" [^\W\d_](?: [^\W\d_]){3}(?: |$)")
_SEPARATED_HINT = re.compile(
    r"[.\-_*·•](?<=[^\W\d_].)[.\-_*·•]?[^\W\d_](?:[.\-_*·•]{1,2}[^\W\d_]){2}"
)


def _may_be_spaced(text: str) -> bool:
    return _has_spaced_letters(text) or bool(_SEPARATED_HINT.search(text))


def _has_spaced_letters(text: str) -> bool:
    """`_SPACED_AT_START.match(text) or _SPACED_HINT.search(text)`, in numpy on long texts.

    Both find four one-letter tokens in a row: a letter at i, i+2, i+4 and i+6, each with
    a space or the text's edge on both sides.
    """
    if len(text) < 3 * WHOLE_TEXT_MIN:  # below this, numpy's fixed costs outweigh
        return bool(_SPACED_AT_START.match(text) or _SPACED_HINT.search(text))
    cps = code_points(text)
    space = cps == 32
    alone = _flags(cps, _LETTER_CHARS, _is_letter)
    alone[1:] &= space[:-1]
    alone[:-1] &= space[1:]
    return bool((alone[:-6] & alone[2:-4] & alone[4:-2] & alone[6:]).any())


def _single_spaced(text: str) -> str:
    """`" ".join(text.split())` of a long text: a text with single spaces only (the usual
    case) is that already; in another, only the runs of white space other than one space
    between two words change (cut out at the ends, one space elsewhere), found in numpy
    rather than by splitting the whole text into words."""
    cps = code_points(text)
    other = _flags(cps, _OTHER_SPACE_TABLE, _is_other_space)
    if "  " not in text and text[:1] != " " and text[-1:] != " " and not other.any():
        return text
    space = np.zeros(len(cps) + 2, dtype=np.int8)  # (str.split() splits on str.isspace())
    space[1:-1] = other | (cps == 32)
    edges = space[1:] - space[:-1]
    starts = (edges == 1).nonzero()[0]
    ends = (edges == -1).nonzero()[0]
    kept = (ends - starts == 1) & (cps.take(starts) == 32) & (starts > 0) & (ends < len(cps))
    cut = ~kept
    at, to = starts.compress(cut).tolist(), ends.compress(cut).tolist()
    n = len(cps)
    gaps = ["" if a == 0 or b == n else " " for a, b in zip(at, to, strict=True)]
    return splice(text, at, to, gaps)


def _join_spaced(text: str) -> str:
    """Join letter-by-letter spelling: "a u t o n o m o u s", "s.a.r.i.n", "a-u-t-o"."""
    tokens = text.split(" ")
    out: list[str] = []
    run: list[str] = []
    for tok in tokens + [""]:
        if len(tok) == 1 and tok.isalpha():
            run.append(tok)
            continue
        if run:
            out.extend(["".join(run)] if len(run) >= 4 else run)
            run = []
        if tok and len(tok) >= 7 and _SEPARATED.fullmatch(tok):
            tok = re.sub(r"[.\-_*·•]", "", tok)
        out.append(tok)
    return " ".join(out[:-1]) if out and out[-1] == "" else " ".join(out)


def _decode_base64(text: str) -> str:
    """Replace base64 blobs that decode to readable text by that text."""
    if len(text) < 20 or (len(text) >= WHOLE_TEXT_MIN and not _has_b64_run(text)):
        return text

    def fix(m: re.Match[str]) -> str:
        blob = m.group(0)
        try:
            decoded = base64.b64decode(blob + "=" * (-len(blob) % 4), validate=True)
            plain = decoded.decode("utf-8")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            return blob
        printable = sum(1 for c in plain if c.isprintable() or c.isspace())
        if plain and printable / len(plain) > 0.95 and " " in plain:
            return " " + plain + " "
        return blob

    if len(text) < WHOLE_TEXT_MIN:
        return _B64.sub(fix, text)
    # a blob is a whole run of base64 characters (the lookbehind), so only the long runs
    # (long German words and camelCase, mostly) are searched, each up to the two "=" and
    # the character its lookahead reads: the matches `_B64.sub` would replace
    out: list[str] = []
    pos = 0
    for start, end in _b64_runs(text):
        for m in _B64.finditer(text, start, min(len(text), end + 3)):
            out += [text[pos : m.start()], fix(m)]
            pos = m.end()
    out.append(text[pos:])
    return "".join(out)


_SURROGATES = re.compile("[\ud800-\udfff]")
_RLO_RUN = re.compile("\u202e([^\u202c\n]*)(?:\u202c|$)", re.MULTILINE)


def _with_visual_order(text: str) -> str:
    """The text plus what a reader sees where a right-to-left override reverses it."""
    visual = _RLO_RUN.sub(lambda m: m.group(1)[::-1], text)
    return text if visual == text else f"{text}\n{visual}"


def normalize(text: str) -> str:
    """The canonical form of `text` that rules and the classifier see."""
    if not text:
        return ""
    # Lone surrogates arrive through JSON escapes ("\ud800") and cannot be encoded (which
    # is also the cheapest way to see that there are none).
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            text = _SURROGATES.sub("", text)
    text = strip_slack_markup(text)
    if "\u202e" in text:
        text = _with_visual_order(text)
    text = _decode_base64(text)
    if not unicodedata.is_normalized("NFKC", text):  # the check is far cheaper
        text = _nfkc(text)
    if not text.isascii():
        if len(text) < WHOLE_TEXT_MIN // 2 or _any_char(text, _INVISIBLE_TABLE, _is_invisible):
            text = _INVISIBLE_OR_FORMAT.sub("", text)
        for curly, straight in _QUOTES:
            if curly in text:
                text = text.replace(curly, straight)
    # A wider gap between spelled-out letters is a word break ("n e r v e   a g e n t"):
    # mark it so joining the letters keeps the two words apart. (A gap of two needs two
    # spaces or a tab.)
    if "  " in text or "\t" in text:
        text = _WIDE_GAP.sub(f" {_GAP_MARK} ", text)
    # str.split() splits on exactly the characters `\s` matches, and is much faster
    text = text.casefold()
    text = " ".join(text.split()) if len(text) < WHOLE_TEXT_MIN else _single_spaced(text)
    # From here the text has single spaces and no other white space; only the steps that
    # put spaces in (marked `spaced`) can break that, so only then is it joined again.
    if not text.isascii():
        text = _fold_traditional(text)
    text = _fold_homoglyphs(text)
    if _may_be_spaced(text):
        text = _join_spaced(text)  # a per-token pass: only for texts that can need it
    spaced = False
    if _GAP_MARK in text:
        text = text.replace(_GAP_MARK, " ")
        spaced = True
    text = _fold_leet(text)
    # bold, strike and code markers; underscores only at word edges (snake_case stays)
    for marker in "*~`":
        if marker in text:
            text = text.replace(marker, " ")
            spaced = True
    if "_" in text:
        text, n = _EDGE_UNDERSCORE.subn(" ", text)
        spaced = spaced or n > 0
    return " ".join(text.split()) if spaced else text
