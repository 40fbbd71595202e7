"""Loading and validating the policy file: errors name the file and the line."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.policy.policy import (
    CATEGORY_IDS,
    HARD_LIMIT_IDS,
    PolicyError,
    cases_path,
    load_cases,
    load_policy,
)
from bot.settings import DEFAULT_POLICY_PATH

SHIPPED = DEFAULT_POLICY_PATH.read_text(encoding="utf-8")


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "p.toml"
    path.write_text(text, encoding="utf-8")
    return path


def _line_of(text: str, needle: str, after: int = 0) -> int:
    for n, line in enumerate(text.splitlines(), 1):
        if n > after and needle in line:
            return n
    raise AssertionError(needle)


def test_shipped_policy_loads_with_every_taxonomy_id_hard_first() -> None:
    policy = load_policy(DEFAULT_POLICY_PATH)
    ids = [c.id for c in policy.categories]
    assert sorted(ids) == sorted(CATEGORY_IDS)
    assert ids[:3] == list(HARD_LIMIT_IDS)
    for cat in policy.categories:
        assert cat.title and cat.description and cat.not_covered and cat.reason
        if cat.hard:
            assert set(cat.decisions.values()) == {"refuse"}
    assert policy.category("weapons_development").decision("standard") == "review"
    assert policy.category("weapons_development").decision("all_lawful_purposes") == "allow"
    assert policy.category("offensive_cyber").decision("all_lawful_purposes") == "review"
    assert len(policy.version) == 12 and len(policy.rules) > 5


def test_version_is_a_content_hash(tmp_path: Path) -> None:
    a = load_policy(_write(tmp_path, SHIPPED))
    b = load_policy(_write(tmp_path, SHIPPED + "\n# a comment\n"))
    assert a.version != b.version
    assert load_policy(_write(tmp_path, SHIPPED)).version == a.version


def test_profile_relaxing_a_hard_limit_names_the_line(tmp_path: Path) -> None:
    start = _line_of(SHIPPED, 'id = "cbrn_weapons"')
    target = _line_of(SHIPPED, 'all_lawful_purposes = "refuse"', after=start)
    lines = SHIPPED.splitlines()
    lines[target - 1] = 'all_lawful_purposes = "review"'
    path = _write(tmp_path, "\n".join(lines))
    with pytest.raises(PolicyError) as err:
        load_policy(path)
    assert err.value.line == target
    assert str(path) in str(err.value) and "hard limit" in str(err.value)


def test_unknown_category_id_names_the_line(tmp_path: Path) -> None:
    text = SHIPPED.replace('id = "military_operations"', 'id = "military_ops"')
    with pytest.raises(PolicyError) as err:
        load_policy(_write(tmp_path, text))
    assert err.value.line == _line_of(text, 'id = "military_ops"')
    assert "unknown category id 'military_ops'" in str(err.value)


def test_missing_field_names_the_category_block(tmp_path: Path) -> None:
    start = _line_of(SHIPPED, 'id = "offensive_cyber"')
    reason = _line_of(SHIPPED, "reason =", after=start)
    lines = SHIPPED.splitlines()
    del lines[reason - 1]
    text = "\n".join(lines)
    with pytest.raises(PolicyError) as err:
        load_policy(_write(tmp_path, text))
    assert "missing field 'reason'" in str(err.value)
    assert err.value.line == start - 1  # the [[categories]] header of that block


def test_bad_regex_names_the_line(tmp_path: Path) -> None:
    text = SHIPPED.replace(
        "'''\\b(write|create|build|develop|code|program|make|generate|give me)",
        "'''\\b(write|create(",
    )
    assert text != SHIPPED
    with pytest.raises(PolicyError) as err:
        load_policy(_write(tmp_path, text))
    assert "bad regex" in str(err.value)
    assert "(write|create(" in text.splitlines()[err.value.line - 1]


def test_channel_override_must_name_a_known_profile(tmp_path: Path) -> None:
    text = SHIPPED.replace("[channels]\n", '[channels]\nC0DEFENCE = "anything_goes"\n')
    with pytest.raises(PolicyError) as err:
        load_policy(_write(tmp_path, text))
    assert err.value.line == _line_of(text, "C0DEFENCE")
    ok = SHIPPED.replace("[channels]\n", '[channels]\nC0DEFENCE = "all_lawful_purposes"\n')
    assert load_policy(_write(tmp_path, ok)).channel_profiles == {
        "C0DEFENCE": "all_lawful_purposes"
    }


def test_invalid_toml_names_the_line(tmp_path: Path) -> None:
    text = SHIPPED + "\nthis is not = = toml\n"
    with pytest.raises(PolicyError) as err:
        load_policy(_write(tmp_path, text))
    assert err.value.line == len(text.splitlines())


def test_hard_flag_cannot_be_dropped(tmp_path: Path) -> None:
    start = _line_of(SHIPPED, 'id = "autonomous_weapons"')
    hard = _line_of(SHIPPED, "hard = true", after=start)
    lines = SHIPPED.splitlines()
    lines[hard - 1] = "hard = false"
    with pytest.raises(PolicyError) as err:
        load_policy(_write(tmp_path, "\n".join(lines)))
    assert err.value.line == hard


def test_cases_file_beside_the_policy_loads() -> None:
    policy = load_policy(DEFAULT_POLICY_PATH)
    cases = load_cases(cases_path(DEFAULT_POLICY_PATH), policy)
    assert len(cases) >= 15
    assert {c.expect for c in cases} == {"allow", "review", "refuse"}
