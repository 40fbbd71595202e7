"""A Redline node in its own process, for tests that must kill it (`kill -9`) and for
the load benchmark's replicas.

    python -m tests.faults.node_process '{"slack_api_url": ..., "database_url": ...}'

The JSON object holds Settings field values (strings and numbers); the node listens on
127.0.0.1 on a free port (or `"port"` if given) and prints `READY <port>` once serving.
"""

from __future__ import annotations

import json
import sys
import threading
from dataclasses import fields
from typing import Any

from bot.settings import Settings
from tests.faults.harness import start_node


def settings_from(values: dict[str, Any]) -> Settings:
    known = {f.name for f in fields(Settings)}
    unknown = set(values) - known
    if unknown:
        raise SystemExit(f"unknown settings: {sorted(unknown)}")
    if "admins" in values:
        values["admins"] = tuple(values["admins"])
    if "rate_per_user" in values or "rate_per_workspace" in values:
        from bot.settings import RateLimit

        for key in ("rate_per_user", "rate_per_workspace"):
            if values.get(key):
                values[key] = RateLimit.parse(key.upper(), values[key])
    return Settings(**values)


def main(argv: list[str]) -> int:
    values = json.loads(argv[1])
    port = int(values.pop("port", 0))
    settings = settings_from(values)
    node = start_node(settings, port=port)
    print(f"READY {node.url.rsplit(':', 1)[1]}", flush=True)
    threading.Event().wait()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
