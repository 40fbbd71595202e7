"""Redaction of personal data and secrets from text before it is written anywhere.

Each kind is replaced by a bracketed label ("[email]", "[card]", …) so that a reviewer
still sees the shape of the request. Patterns that look alike are checked (Luhn for
cards, mod-97 for IBANs, `ipaddress` for IPv6, entropy for long base64 strings), so
dates, version numbers and ordinary words survive. Known secret values (the running
settings' tokens and keys) are replaced first, verbatim.
"""

from __future__ import annotations

import ipaddress
import math
import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass

_PRIVATE_KEY = re.compile(
    r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----.*?"
    r"(?:-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----|\Z)",
    re.S,
)
_BEARER = re.compile(r"(?i)\b(bearer|token|basic)(\s+)[A-Za-z0-9._~+/=-]{8,}")
_KEY_VALUE = re.compile(
    r"(?i)\b((?:api[_-]?key|apikey|access[_-]?key|secret(?:[_-]?key)?|client[_-]?secret|"
    r"password|passwd|pwd|auth[_-]?token|access[_-]?token|token)\b[\"']?\s*[:=]\s*[\"']?)"
    r"[^\s\"',;]{4,}"
)
_SLACK_TOKEN = re.compile(r"\b(?:xox[abposre]|xapp)-[A-Za-z0-9-]{6,}")
_OPENAI_STYLE_KEY = re.compile(r"\bsk-(?:[A-Za-z0-9]+-)*[A-Za-z0-9_-]{16,}")
_AWS_KEY_ID = re.compile(r"\b(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA)[0-9A-Z]{16}\b")
_GITHUB_TOKEN = re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{30,})\b")
_GOOGLE_KEY = re.compile(r"\bAIza[0-9A-Za-z_-]{35}\b")
_JWT = re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}")
_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b")
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?:[ ]?[A-Z0-9]){11,30}\b")
_CARD = re.compile(r"(?<![\d-])\d(?:[ -]?\d){12,18}(?![\d-])")
_ACCOUNT = re.compile(
    r"(?i)\b((?:account|acct|a/c|routing|sort[ ]code|bsb|aba)"
    r"(?:[ ]?(?:no\.?|number|num|#))?[ ]*[:#]?[ ]*)(\d[\d -]{4,22}\d)"
)
_IPV4 = re.compile(
    r"(?<![\d.])(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
    r"(?:/\d{1,2})?(?![\d.]*\d)"
)
_IPV6_CANDIDATE = re.compile(r"(?<![\w:])[0-9A-Fa-f:]*:[0-9A-Fa-f:]*:[0-9A-Fa-f:.]*(?![\w:])")
_PHONE = re.compile(
    r"(?<![\w+])(?:\+\d{1,3}[ .-]?)?(?:\(\d{1,4}\)[ .-]?)?\d{1,4}(?:[ .-]\d{2,4}){1,4}(?![\w])"
    r"|(?<![\w+])\+\d{8,15}(?!\w)"
)
_LONG_HEX = re.compile(r"\b[0-9a-fA-F]{32,}\b")
_LONG_B64 = re.compile(r"(?<![A-Za-z0-9+/_-])[A-Za-z0-9+/_-]{32,}={0,2}")


@dataclass(frozen=True)
class _Rule:
    kind: str
    pattern: re.Pattern[str]
    replace: Callable[[re.Match[str]], str]


def _label(kind: str) -> Callable[[re.Match[str]], str]:
    return lambda _m: f"[{kind}]"


def _keep_prefix(kind: str) -> Callable[[re.Match[str]], str]:
    return lambda m: f"{m.group(1)}[{kind}]"


def _bearer(m: re.Match[str]) -> str:
    return f"{m.group(1)}{m.group(2)}[token]"


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def iban_ok(candidate: str) -> bool:
    s = candidate.replace(" ", "").upper()
    if not 15 <= len(s) <= 34:
        return False
    moved = s[4:] + s[:4]
    try:
        number = int("".join(str(int(c, 36)) for c in moved))
    except ValueError:
        return False
    return number % 97 == 1


def _card(m: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", m.group(0))
    if 13 <= len(digits) <= 19 and luhn_ok(digits):
        return "[card]"
    return m.group(0)


def _iban(m: re.Match[str]) -> str:
    return "[iban]" if iban_ok(m.group(0)) else m.group(0)


def _ipv6(m: re.Match[str]) -> str:
    candidate = m.group(0)
    try:
        ipaddress.IPv6Address(candidate.split("%")[0])
    except ValueError:
        return candidate
    return "[ip]"


def _phone(m: re.Match[str]) -> str:
    digits = sum(ch.isdigit() for ch in m.group(0))
    raw = m.group(0)
    # 7–15 digits (E.164); a bare "2024-05-01" style date is not a phone number
    if not 7 <= digits <= 15 or re.fullmatch(r"\d{4}[-./]\d{1,2}[-./]\d{1,2}", raw):
        return raw
    if not raw.startswith(("+", "(")) and re.fullmatch(r"\d{1,2}[./]\d{1,2}[./]\d{2,4}", raw):
        return raw
    return "[phone]"


def _entropy(s: str) -> float:
    counts = Counter(s)
    n = len(s)
    return -sum(c / n * math.log2(c / n) for c in counts.values())


def _long_b64(m: re.Match[str]) -> str:
    s = m.group(0).rstrip("=")
    # a secret mixes classes and looks random; paths and identifiers do not
    classes = sum(
        (any(c.islower() for c in s), any(c.isupper() for c in s), any(c.isdigit() for c in s))
    )
    if classes == 3 and _entropy(s) >= 4.0 and s.count("/") <= len(s) // 6:
        return "[secret]"
    return m.group(0)


# Order matters: whole blocks and prefixed tokens before the generic shapes that would
# otherwise eat parts of them; cards and IBANs before phone numbers.
_RULES: tuple[_Rule, ...] = (
    _Rule("private-key", _PRIVATE_KEY, _label("private-key")),
    _Rule("token", _SLACK_TOKEN, _label("token")),
    _Rule("token", _OPENAI_STYLE_KEY, _label("key")),
    _Rule("key", _AWS_KEY_ID, _label("key")),
    _Rule("token", _GITHUB_TOKEN, _label("token")),
    _Rule("key", _GOOGLE_KEY, _label("key")),
    _Rule("token", _JWT, _label("token")),
    _Rule("token", _BEARER, _bearer),
    _Rule("secret", _KEY_VALUE, _keep_prefix("secret")),
    _Rule("email", _EMAIL, _label("email")),
    _Rule("iban", _IBAN, _iban),
    _Rule("card", _CARD, _card),
    _Rule("account", _ACCOUNT, _keep_prefix("account")),
    _Rule("ip", _IPV6_CANDIDATE, _ipv6),
    _Rule("ip", _IPV4, _label("ip")),
    _Rule("secret", _LONG_HEX, _label("secret")),
    _Rule("secret", _LONG_B64, _long_b64),
    _Rule("phone", _PHONE, _phone),
)


class Redactor:
    """Redacts PII and secrets; `secrets` are exact values (settings.secrets())."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        values = sorted({s for s in secrets if s and len(s) >= 6}, key=len, reverse=True)
        self._secrets = (
            re.compile("|".join(re.escape(v) for v in values)) if values else None
        )

    def redact(self, text: str) -> str:
        if not text:
            return text
        if self._secrets is not None:
            text = self._secrets.sub("[secret]", text)
        for rule in _RULES:
            text = rule.pattern.sub(rule.replace, text)
        return text

    def scrub_secrets(self, text: str) -> str:
        """Only the exact secret values (for fields that are not free text)."""
        if not text or self._secrets is None:
            return text
        return self._secrets.sub("[secret]", text)


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    return Redactor(secrets).redact(text)
