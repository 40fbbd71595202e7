"""Stage (c): an optional LLM judge, asked only where the classifier is unsure.

OpenAI-compatible `chat/completions` over httpx (vLLM, Ollama, a hosted safety model such
as gpt-oss-safeguard or Llama Guard behind such an endpoint). The system prompt is the
written policy itself. `classify` returns None whenever the judge cannot give a usable
answer (timeout, HTTP error, unparsable reply); the engine then fails closed for a
hard-limit candidate and falls back to the classifier otherwise.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass

import httpx

from bot.policy.policy import Policy
from bot.settings import Settings

log = logging.getLogger(__name__)

MAX_JUDGE_CHARS = 6_000
_JSON_OBJ = re.compile(r"\{.*\}", re.DOTALL)


@dataclass(frozen=True)
class JudgeAnswer:
    category: str | None  # a taxonomy id, or None for "allowed"
    confidence: float
    rationale: str = ""


class Judge:
    def __init__(
        self,
        base_url: str,
        model: str,
        policy: Policy,
        *,
        api_key: str = "",
        timeout_s: float = 5.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.model = model
        self._ids = {c.id for c in policy.categories}
        self._system = self._system_prompt(policy)
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.Client(
            base_url=base_url.rstrip("/") + "/",
            headers=headers,
            timeout=httpx.Timeout(timeout_s),
            transport=transport,
        )

    @classmethod
    def from_settings(cls, settings: Settings, policy: Policy) -> Judge | None:
        if not settings.judge_base_url or not settings.judge_model:
            return None
        return cls(
            settings.judge_base_url,
            settings.judge_model,
            policy,
            api_key=settings.judge_api_key,
            timeout_s=settings.judge_timeout_s,
        )

    @staticmethod
    def _system_prompt(policy: Policy) -> str:
        ids = ", ".join(c.id for c in policy.categories)
        return (
            "You are a content-policy classifier. Apply this written policy to the text the "
            "user gives you. Classify what the text asks for (kind=request) or provides "
            "(kind=response), not the words it happens to use.\n\n"
            f"{policy.describe()}\n\n"
            "Answer with one JSON object and nothing else: "
            '{"category": "<one of: ' + ids + ', or none>", "confidence": <0..1>, '
            '"rationale": "<one short sentence>"}'
        )

    def classify(self, text: str, kind: str = "request") -> JudgeAnswer | None:
        body = {
            "model": self.model,
            "temperature": 0,
            "max_tokens": 200,
            "messages": [
                {"role": "system", "content": self._system},
                {"role": "user", "content": f"kind={kind}\ntext:\n{text[:MAX_JUDGE_CHARS]}"},
            ],
        }
        try:
            resp = self._client.post("chat/completions", json=body)
            resp.raise_for_status()
            content = resp.json()["choices"][0]["message"]["content"]
        except (httpx.HTTPError, ValueError, KeyError, IndexError, TypeError) as exc:
            log.warning("policy judge unavailable: %s", type(exc).__name__)
            return None
        return self._parse(content)

    def _parse(self, content: object) -> JudgeAnswer | None:
        if not isinstance(content, str):
            return None
        m = _JSON_OBJ.search(content)
        if not m:
            return None
        try:
            data = json.loads(m.group(0))
            category = str(data.get("category", "")).strip()
            confidence = float(data.get("confidence", 0.5))
        except (ValueError, TypeError, AttributeError):
            return None
        if category.lower() in ("none", "allowed", "allow", ""):
            return JudgeAnswer(None, max(0.0, min(1.0, confidence)), str(data.get("rationale", "")))
        if category not in self._ids:
            return None
        rationale = str(data.get("rationale", ""))[:200]
        return JudgeAnswer(category, max(0.0, min(1.0, confidence)), f"judge: {rationale}")

    def close(self) -> None:
        self._client.close()
