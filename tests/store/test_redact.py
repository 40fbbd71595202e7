"""Redaction: one test per kind, plus the look-alikes that must survive."""

from __future__ import annotations

import pytest

from bot.store.redact import Redactor, iban_ok, luhn_ok, redact


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("write to john.doe+tag@example.co.uk today", "john.doe+tag@example.co.uk"),
        ("mail ANNA@Mail.Example.org", "ANNA@Mail.Example.org"),
    ],
)
def test_email(text: str, secret: str) -> None:
    out = redact(text)
    assert secret not in out and "[email]" in out


@pytest.mark.parametrize(
    "number", ["+1 (415) 555-2671", "415-555-2671", "+447911123456", "020 7946 0958",
               "+33 6 12 34 56 78", "555.123.4567"],
)
def test_phone(number: str) -> None:
    out = redact(f"call me on {number} please")
    assert out == "call me on [phone] please"


@pytest.mark.parametrize(
    "card", ["4111 1111 1111 1111", "5500-0000-0000-0004", "378282246310005", "6011111111111117"],
)
def test_card_luhn_valid(card: str) -> None:
    assert redact(f"card {card} exp 12/27") == "card [card] exp 12/27"


def test_card_failing_luhn_is_kept() -> None:
    assert not luhn_ok("4111111111111112")
    assert "4111111111111112" in redact("order 4111111111111112")


@pytest.mark.parametrize("iban", ["GB82 WEST 1234 5698 7654 32", "DE89370400440532013000",
                                  "FR1420041010050500013M02606"])
def test_iban(iban: str) -> None:
    assert iban_ok(iban)
    assert redact(f"pay to {iban} now") == "pay to [iban] now"


def test_iban_bad_checksum_kept() -> None:
    assert not iban_ok("GB00WEST12345698765432")
    assert "GB00WEST12345698765432" in redact("ref GB00WEST12345698765432")


@pytest.mark.parametrize(
    "text", ["account number: 12345678", "acct # 0012-3456-789", "routing 021000021",
             "sort code 12-34-56", "Account no. 98765432101"],
)
def test_account_numbers(text: str) -> None:
    out = redact(text)
    assert "[account]" in out
    assert not any(ch.isdigit() for ch in out)


@pytest.mark.parametrize("ip", ["192.168.1.20", "10.0.0.1", "8.8.8.8", "172.16.0.0/12"])
def test_ipv4(ip: str) -> None:
    assert redact(f"host {ip} is down") == "host [ip] is down"


@pytest.mark.parametrize("ip", ["2001:db8::8a2e:370:7334", "::1", "fe80::1",
                                "2001:0db8:85a3:0000:0000:8a2e:0370:7334"])
def test_ipv6(ip: str) -> None:
    assert redact(f"host {ip} is down") == "host [ip] is down"


@pytest.mark.parametrize(
    ("token", "label"),
    [
        ("xoxb-2048-1234567890-AbCdEfGhIjKlMnOp", "[token]"),
        ("xoxp-1111-2222-3333-abcdef", "[token]"),
        ("xapp-1-A012345-678901-abcdef0123456789", "[token]"),
        ("sk-proj-AbCdEf0123456789GhIjKl", "[key]"),
        ("sk-ant-api03-AbCdEf0123456789GhIjKlMn", "[key]"),
        ("AKIAIOSFODNN7EXAMPLE", "[key]"),
        ("ghp_abcdefghijklmnopqrstuvwxyz0123456789", "[token]"),
        ("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N", "[token]"),
    ],
)
def test_tokens_and_keys(token: str, label: str) -> None:
    out = redact(f"my key is {token} ok")
    assert token not in out and label in out


def test_bearer_token() -> None:
    out = redact("Authorization: Bearer abc.def-ghi_jkl123456")
    assert out == "Authorization: Bearer [token]"


def test_key_value_secrets() -> None:
    out = redact("password=hunter2xx and api_key: abcd1234 and client_secret='zzzzzz'")
    assert "hunter2xx" not in out and "abcd1234" not in out and "zzzzzz" not in out
    assert out.count("[secret]") == 3


def test_long_hex_and_base64_secrets() -> None:
    hexs = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
    b64 = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
    out = redact(f"sig {hexs} secret {b64}")
    assert hexs not in out and b64 not in out
    assert out == "sig [secret] secret [secret]"


def test_private_key_block() -> None:
    block = (
        "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ\n"
        "QyNTUxOQAAACBiq8\n-----END OPENSSH PRIVATE KEY-----"
    )
    assert redact(f"here: {block} thanks") == "here: [private-key] thanks"


def test_known_secret_values_replaced_verbatim() -> None:
    r = Redactor(["plain-looking-secret", "xyz"])  # short values are ignored (too common)
    assert r.redact("the value plain-looking-secret leaked") == "the value [secret] leaked"
    assert r.redact("xyz stays") == "xyz stays"
    assert r.scrub_secrets("a plain-looking-secret b") == "a [secret] b"


@pytest.mark.parametrize(
    "text",
    [
        "meeting on 2024-05-01 at 10:30:45",
        "version 1.2.3 and pi 3.14159",
        "order 12345 shipped in 2023",
        "see https://example.com/path/to/some/long/resource/name_here_ok",
        "ratio 1:2:3, channel C0123ABCD, user U0456XYZ",
        "How do I write a Python function that sorts a list?",
        "def handler(event, context): return {'statusCode': 200}",
    ],
)
def test_ordinary_text_survives(text: str) -> None:
    assert redact(text) == text


def test_empty_text() -> None:
    assert redact("") == ""
