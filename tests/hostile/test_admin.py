"""A non-admin gets nothing from the admin surface: every `/redline` admin subcommand
and every review button. No admin data reaches them, the channel profile does not move,
no review is decided, the model is not called; they are told "not allowed", and the
attempt is audited. An admin running the same commands is the control.
"""

from __future__ import annotations

import json

import pytest

from tests.fakes.slack_api import all_text, slash_body
from tests.faults.harness import press_button, review_buttons, settle
from tests.hostile.conftest import ADMIN, REVIEW_CHANNEL, USER, Hostile

CHANNEL = "C0ADMINT1"
CANARY = "zebra-canary-771"  # text only an admin may ever see again (other users' records)

ADMIN_COMMANDS = [
    "audit",
    f"audit <@{ADMIN}>",
    "audit cbrn_weapons 30d",
    "stats",
    "stats 7d",
    "review",
    "profile set all_lawful_purposes",
    f"profile set all_lawful_purposes <#{CHANNEL}|general>",
    "profile set standard",
]

def _slash(h: Hostile, text: str, user: str = USER) -> tuple[int, str]:
    form = slash_body("/redline", text, response_url=h.slack.response_url("adm"), user=user,
                      channel=CHANNEL)
    resp = h.node.post(form, content_type="application/x-www-form-urlencoded")
    settle(h.slack, quiet_s=0.25, timeout=5)
    seen = [resp.text] + [json.dumps(c.params) for c in h.slack.calls]
    return resp.status_code, "\n".join(seen)


def _seed_canary(h: Hostile) -> None:
    """Another user's refused request, kept (redacted) in the audit log."""
    store = h.node.services.store
    assert store is not None
    if store.count_audit(user="U0OTHER01") == 0:
        from bot.types import AuditEntry

        store.record(AuditEntry(
            action="request", request_id="canary-1", team="T0FAKE001", channel="C0SECRET1",
            user="U0OTHER01", profile="standard", decision="refuse", category="cbrn_weapons",
            stage="rules", text=f"sarin synthesis {CANARY}",
        ))


@pytest.mark.parametrize("command", ADMIN_COMMANDS)
def test_non_admin_gets_no_admin_data_and_changes_nothing(h: Hostile, command: str) -> None:
    _seed_canary(h)
    store = h.node.services.store
    assert store is not None
    status, seen = _slash(h, command)
    assert status == 200
    assert CANARY not in seen and "U0OTHER01" not in seen and "C0SECRET1" not in seen
    assert store.channel_profile(CHANNEL) is None
    assert h.model.model_calls == 0


@pytest.mark.parametrize("command", ADMIN_COMMANDS)
def test_non_admin_is_told_not_allowed_and_the_attempt_is_audited(
    h: Hostile, command: str
) -> None:
    store = h.node.services.store
    assert store is not None
    before = store.count_audit(user=USER)
    _, seen = _slash(h, command)
    assert "not allowed" in seen.lower()
    after = store.query_audit(user=USER, limit=5)
    assert store.count_audit(user=USER) > before
    assert any(r.decision == "denied_access" for r in after)


def test_admin_commands_do_work_for_an_admin(h: Hostile) -> None:
    """The control for the tests above: the same commands are not refused to an admin."""
    _seed_canary(h)
    _, seen = _slash(h, "audit <@U0OTHER01>", user=ADMIN)
    assert "not allowed" not in seen.lower()
    assert "U0OTHER01" in seen  # the admin does see the other user's record


def test_non_admin_pressing_review_buttons_decides_nothing(h: Hostile) -> None:
    """A request held for review puts a card with buttons in the review channel; a
    non-reviewer pressing each of them (as Slack would send it) changes nothing."""
    _, reply = h.mention("how do I build a pipe bomb", channel=CHANNEL)
    assert ":hourglass:" in reply, reply
    store = h.node.services.store
    assert store is not None
    cards_posted = h.slack.wait_for(lambda s: bool(review_buttons(s, REVIEW_CHANNEL)), 10)
    assert cards_posted, "no review card was posted"
    pending = store.pending_reviews()
    assert pending
    for button in review_buttons(h.slack, REVIEW_CHANNEL):
        status = press_button(h.node, h.slack, button, user="U0MALLORY", channel=REVIEW_CHANNEL)
        assert status < 500
    settle(h.slack)
    for item in pending:
        current = store.get_review(item.id)
        assert current is not None and current.status == "pending"
    assert h.model.model_calls == 0
    texts = [all_text(c.params) for c in h.slack.calls_to("response_url")]
    texts += [all_text(c.params) for c in h.slack.calls_to("chat.postEphemeral")]
    assert any("not allowed" in t.lower() or "only" in t.lower() for t in texts)
