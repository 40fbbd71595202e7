"""Property: whatever arrives at /slack/events (random bytes, JSON of random shapes,
Slack-like envelopes with random fields, form bodies, signed or not, any headers), the
answer is never a 5xx, and the server still answers /healthz afterwards.

10,000 generated requests against one running node (~1 minute on 2 cores).
"""

from __future__ import annotations

import json
import time
from urllib.parse import urlencode

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fakes.slack_api import BOT_USER_ID, event_body, sign, slash_body
from tests.hostile.conftest import Hostile

EXAMPLES = 10_000

SLACK_KEYS = [
    "type", "token", "team_id", "api_app_id", "event", "event_id", "event_time",
    "authorizations", "challenge", "payload", "command", "text", "user_id", "user",
    "channel_id", "channel", "team", "response_url", "trigger_id", "actions", "view",
    "container", "message", "enterprise", "state", "callback_id", "is_enterprise_install",
]
SLACK_TYPES = [
    "event_callback", "url_verification", "block_actions", "view_submission",
    "view_closed", "shortcut", "message_action", "app_rate_limited", "block_suggestion",
]
EVENT_TYPES = ["app_mention", "message", "app_home_opened", "assistant_thread_started", "x"]

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=30),
)
# Cheap, shallow values for Slack fields (hypothesis spends far more time generating deep
# structures than the server spends answering them).
small = st.one_of(
    scalars,
    st.lists(scalars, max_size=3),
    st.dictionaries(st.sampled_from(SLACK_KEYS), scalars, max_size=3),
)
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.one_of(st.sampled_from(SLACK_KEYS), st.text(max_size=6)), inner,
                        max_size=3),
    ),
    max_leaves=8,
)
events = st.builds(
    lambda kind, fields: {"type": kind, **fields},
    st.sampled_from(EVENT_TYPES),
    st.dictionaries(
        st.sampled_from(["user", "text", "channel", "ts", "thread_ts", "bot_id", "channel_type"]),
        st.one_of(st.text(max_size=80), small),
        max_size=5,
    ),
)
envelopes = st.builds(
    lambda kind, event, fields: {"type": kind, **({"event": event} if event else {}), **fields},
    st.one_of(st.sampled_from(SLACK_TYPES), small),
    st.one_of(st.none(), events, small),
    st.dictionaries(st.sampled_from(SLACK_KEYS), small, max_size=4),
)
forms = st.lists(
    st.tuples(st.one_of(st.sampled_from(SLACK_KEYS), st.text(max_size=6)), st.text(max_size=40)),
    max_size=6,
).map(urlencode)
payload_forms = st.one_of(envelopes, small).map(
    lambda obj: urlencode({"payload": json.dumps(obj)})
)
# Well-formed Slack requests with fuzzed text, so the fuzz also reaches the listeners,
# the policy engine, the model and the replies (their failures show up in the thread,
# not as HTTP statuses, but a crash in an ack function would be a 500).
fuzz_text = st.text(max_size=120)
valid_requests = st.one_of(
    fuzz_text.map(
        lambda t: json.dumps(event_body("event_app_mention.json", text=f"<@{BOT_USER_ID}> {t}"))
    ),
    fuzz_text.map(lambda t: json.dumps(event_body("event_message_im.json", text=t,
                                                  channel="D0DM00001"))),
    st.tuples(st.sampled_from(["/redline", "/ask"]), fuzz_text).map(
        lambda ct: slash_body(ct[0], ct[1], response_url="http://127.0.0.1:9/response/fuzz")
    ),
)
bodies = st.one_of(
    valid_requests,
    st.binary(max_size=400),
    json_values.map(json.dumps),
    envelopes.map(json.dumps),
    forms,
    payload_forms,
    st.text(max_size=200),
)
header_text = st.text(
    alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=30
)
content_types = st.one_of(
    st.sampled_from(
        ["application/json", "application/x-www-form-urlencoded", "text/plain",
         "application/json; charset=utf-8", "multipart/form-data; boundary=x"]
    ),
    header_text,
)
# Mostly current timestamps, so most signed requests get past verification into Bolt.
timestamps = st.one_of(
    st.sampled_from(["now"] * 6 + ["stale", "future"]),
    st.integers(-(10**12), 10**12).map(str),
    header_text,
)


def test_fuzzed_requests_never_get_a_5xx(h: Hostile) -> None:
    statuses: dict[int, int] = {}
    failures: list[tuple[int, bytes, dict[str, str]]] = []
    node = h.node
    url = f"{node.url}/slack/events"

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(
        body=bodies,
        content_type=content_types,
        signed=st.booleans(),
        timestamp=timestamps,
        retry=st.one_of(st.none(), header_text),
        extra=st.dictionaries(
            st.sampled_from(["X-Slack-Retry-Reason", "X-Forwarded-For", "User-Agent",
                             "X-Slack-Signature", "Accept"]),
            header_text, max_size=2,
        ),
    )
    def one_request(
        body: bytes | str, content_type: str, signed: bool, timestamp: str,
        retry: str | None, extra: dict[str, str],
    ) -> None:
        raw = body.encode("utf-8", "surrogatepass") if isinstance(body, str) else body
        headers = {"Content-Type": content_type, **extra}
        now = int(time.time())
        ts = {"now": str(now), "stale": str(now - 600), "future": str(now + 600)}.get(
            timestamp, timestamp
        )
        if signed and ts.lstrip("-").isdigit():
            headers.update(sign(node.settings.slack_signing_secret, raw, int(ts)))
        elif signed:
            headers["X-Slack-Request-Timestamp"] = ts
            headers.setdefault("X-Slack-Signature", "v0=" + "0" * 64)
        if retry is not None:
            headers["X-Slack-Retry-Num"] = retry
        resp = node.http.post(url, content=raw, headers=headers)
        statuses[resp.status_code] = statuses.get(resp.status_code, 0) + 1
        if resp.status_code >= 500:
            failures.append((resp.status_code, raw[:300], headers))

    one_request()
    print("statuses:", dict(sorted(statuses.items())))
    assert sum(statuses.values()) >= EXAMPLES
    assert not failures, f"{len(failures)} answers were 5xx; first: {failures[:3]}"
    health = node.get("/healthz")
    assert health.status_code == 200 and health.json()["database"]["ok"] is True
