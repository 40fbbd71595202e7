"""Benchmark the policy engine's embedded stages against a plain keyword ban-list.

    .venv/bin/python bench/bench_policy.py [--n 10000] [--seed 1]

Builds a mixed input of N messages (short chat lines up to ~4 KB pastes, from the
training texts, shuffled and concatenated), pins the process to one core, then prints:
engine load time and resident-memory delta, messages/s and p50/p99 per message for
normalise + rules + classifier (no judge), and the same figures for a keyword ban-list over
the same input in the same run, with the per-message cost ratio.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import re
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BAN_LIST = (
    "sarin", "vx", "novichok", "nerve agent", "ricin", "anthrax", "botulinum", "mustard gas",
    "chemical weapon", "bioweapon", "dirty bomb", "nuclear bomb", "enriched uranium",
    "autonomous weapon", "kill chain", "turret", "without operator", "loitering munition",
    "face recognition", "facial recognition", "mass surveillance", "track everyone",
    "protesters", "location data", "track his phone", "track her phone", "spyware",
    "stalkerware", "deanonymize", "dox", "ransomware", "keylogger", "exploit", "malware",
    "botnet", "reverse shell", "phishing", "suppressor", "silencer", "full auto", "ghost gun",
    "explosive", "ied", "pipe bomb", "warhead", "artillery", "target list", "airstrike",
    "зарин", "沙林", "gas sarín", "armes chimiques", "chemiewaffe",
)


def rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        pages = int(fh.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 1e6


def build_input(n: int, seed: int) -> list[str]:
    texts: list[str] = []
    for path in sorted((ROOT / "data" / "train").glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                texts.append(json.loads(line)["text"])
    if not texts:
        texts = ["How do I kill a Python process?", "Write a haiku about rain."]
    rng = random.Random(seed)
    out: list[str] = []
    for _ in range(n):
        r = rng.random()
        if r < 0.80:  # one chat message
            out.append(rng.choice(texts))
        else:  # a paste: several texts, up to 4 KB
            target = rng.randint(300, 4096)
            parts: list[str] = []
            while sum(len(p) + 1 for p in parts) < target:
                parts.append(rng.choice(texts))
            out.append(" ".join(parts)[:target])
    return out


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    try:
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
        pinned = f"pinned to core {min(os.sched_getaffinity(0))}"
    except (AttributeError, OSError):
        pinned = "not pinned (no sched_setaffinity)"

    messages = build_input(args.n, args.seed)
    lengths = sorted(len(m) for m in messages)
    print(f"input: {len(messages)} messages, length p50 {lengths[len(lengths) // 2]} "
          f"max {lengths[-1]} chars; {pinned}")

    gc.collect()
    rss0 = rss_mb()
    t0 = time.perf_counter()
    from bot.policy.engine import PolicyEngine
    from bot.settings import Settings

    settings = Settings.from_env(env={}, dotenv_path=None)  # no judge: embedded stages only
    engine = PolicyEngine.from_settings(settings)
    load_s = time.perf_counter() - t0
    gc.collect()
    rss1 = rss_mb()
    print(f"engine load: {load_s * 1000:.0f} ms (imports + policy + model); "
          f"RSS {rss0:.0f} -> {rss1:.0f} MB (+{rss1 - rss0:.0f} MB); "
          f"classifier {'loaded' if engine.classifier else 'MISSING'}")

    for m in messages[:200]:  # warm up
        engine.decide(m)

    lat: list[float] = []
    flagged = 0
    start = time.perf_counter()
    for m in messages:
        t = time.perf_counter()
        v = engine.decide(m)
        lat.append(time.perf_counter() - t)
        flagged += v.decision != "allow"
    total = time.perf_counter() - start
    p50, p99 = percentiles(lat)
    long_lat = [x for x, m in zip(lat, messages, strict=True) if len(m) >= 3000]
    lp50, lp99 = percentiles(long_lat) if long_lat else (0.0, 0.0)
    print(f"engine:   {len(messages) / total:,.0f} msg/s  p50 {p50 * 1e3:.3f} ms  "
          f"p99 {p99 * 1e3:.3f} ms  (>=3 KB: p50 {lp50 * 1e3:.3f} p99 {lp99 * 1e3:.3f} ms)  "
          f"flagged {flagged}")

    # Where the 2 ms target holds and where it does not, by message length.
    print("by length:  " + "  ".join(
        f"{lo // 1024}-{hi // 1024} KB: n {len(b)}, p99 {percentiles(b)[1] * 1e3:.2f} ms, "
        f"{sum(x <= 0.002 for x in b) / len(b):.1%} <= 2 ms"
        for lo, hi in ((0, 1024), (1024, 2048), (2048, 3072), (3072, 4097))
        if (b := [x for x, m in zip(lat, messages, strict=True) if lo <= len(m) < hi])
    ))
    print(f"all messages within 2 ms: {sum(x <= 0.002 for x in lat) / len(lat):.2%}")

    pattern = re.compile("|".join(re.escape(w) for w in BAN_LIST))
    blat: list[float] = []
    bflagged = 0
    start = time.perf_counter()
    for m in messages:
        t = time.perf_counter()
        hit = pattern.search(m.lower()) is not None
        blat.append(time.perf_counter() - t)
        bflagged += hit
    btotal = time.perf_counter() - start
    bp50, bp99 = percentiles(blat)
    print(f"ban-list: {len(messages) / btotal:,.0f} msg/s  p50 {bp50 * 1e3:.4f} ms  "
          f"p99 {bp99 * 1e3:.4f} ms  flagged {bflagged}")
    print(f"ratio (engine / ban-list per-message mean cost): {total / btotal:.1f}x; "
          f"p50 ratio {p50 / bp50:.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
