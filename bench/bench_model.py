"""Model client overhead against the fake model server, with a raw-httpx baseline.

    .venv/bin/python -m bench.bench_model [--calls 200]

For each provider, streams the fake's default answer N times and prints p50/p99 of the time
to the first text delta and to the end of the answer: once through Redline's client, once
through a bare httpx stream of the same request (the baseline, measured in the same run).
The difference is what the client's SSE parsing, deadlines and bookkeeping cost.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable, Iterator

import httpx

from bot.model import ChatMessage, build_chat_client
from tests.fakes.model_server import FakeModelServer

MESSAGES = [ChatMessage("user", "Summarise the meeting notes in three bullet points, please.")]


def _percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return statistics.median(ordered) * 1000, p99 * 1000


def _measure(stream: Callable[[], Iterator[str]], calls: int) -> tuple[list[float], list[float]]:
    first: list[float] = []
    total: list[float] = []
    for _ in range(calls):
        started = time.perf_counter()
        seen_first = False
        for _chunk in stream():
            if not seen_first:
                first.append(time.perf_counter() - started)
                seen_first = True
        total.append(time.perf_counter() - started)
    return first, total


def _raw_stream(http: httpx.Client, url: str, headers: dict[str, str], body: dict) -> Callable:
    def run() -> Iterator[str]:
        with http.stream("POST", url, json=body, headers=headers) as response:
            for line in response.iter_lines():
                if line.startswith("data:") and ("text" in line or "content" in line):
                    yield line

    return run


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200)
    args = parser.parse_args()
    print(
        f"{'provider':<10} {'path':<9} {'first p50':>10} {'first p99':>10} "
        f"{'total p50':>10} {'total p99':>10}   (ms, {args.calls} calls)"
    )
    with FakeModelServer() as fake, httpx.Client() as http:
        for provider in ("openai", "anthropic"):
            settings = fake.settings(provider)
            client = build_chat_client(settings)
            assert client is not None
            if provider == "openai":
                url = f"{fake.base_url}/chat/completions"
                headers = {"Authorization": f"Bearer {settings.llm_api_key}"}
                body = {
                    "model": "m",
                    "stream": True,
                    "max_tokens": 100,
                    "messages": [{"role": "user", "content": MESSAGES[0].content}],
                }
            else:
                url = f"{fake.root_url}/v1/messages"
                headers = {"x-api-key": settings.llm_api_key, "anthropic-version": "2023-06-01"}
                body = {
                    "model": "m",
                    "stream": True,
                    "max_tokens": 100,
                    "messages": [{"role": "user", "content": MESSAGES[0].content}],
                }
            runs = {
                "baseline": _raw_stream(http, url, headers, body),
                "client": lambda client=client: client.stream(MESSAGES),
            }
            for name, run in runs.items():
                _measure(run, 10)  # warm-up: connections, imports
                first, total = _measure(run, args.calls)
                f50, f99 = _percentiles(first)
                t50, t99 = _percentiles(total)
                print(
                    f"{provider:<10} {name:<9} {f50:>10.2f} {f99:>10.2f} {t50:>10.2f} {t99:>10.2f}"
                )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
