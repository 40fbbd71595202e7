"""Multi-byte UTF-8 split across TCP writes arrives intact, for both providers."""

from __future__ import annotations

from bot.model import ChatMessage
from tests.fakes.model_server import FakeModelServer, Reply
from tests.model.conftest import MakeClient

# 2-, 3- and 4-byte characters, a combining accent, a ZWJ emoji sequence, right-to-left text.
CHUNKS = ["Grüße, ", "日本語の", "テキスト 🎉🧑‍💻 ", "e\u0301 ", "مرحبا ", "\U0001f600"]


def test_multibyte_characters_split_byte_by_byte(
    fake: FakeModelServer, make_client: MakeClient, provider: str
) -> None:
    fake.script(Reply(chunks=CHUNKS, write_size=1))  # every byte its own TCP write
    got = list(make_client(provider).stream([ChatMessage("user", "ünïcödé")]))
    assert got == CHUNKS
    assert fake.requests[-1].last_user_text == "ünïcödé"


def test_unicode_question_and_answer_round_trip(
    fake: FakeModelServer, make_client: MakeClient, provider: str
) -> None:
    question = "Was heißt 「こんにちは」? 🙂" * 50
    client = make_client(provider)
    assert client.complete([ChatMessage("user", question)]) == f"You said: {question}"
    assert "".join(client.stream([ChatMessage("user", question)])) == f"You said: {question}"
