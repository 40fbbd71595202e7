"""Settings: read once from the environment (and `.env`) into one frozen, typed object.

Every other module receives a `Settings` (or the part of it it needs); nothing reads
`os.environ` elsewhere. A missing or malformed value raises `SettingsError`, which the
CLI turns into one line naming the variable.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path

from dotenv import dotenv_values

PROFILES = ("standard", "all_lawful_purposes")
LLM_PROVIDERS = ("openai", "anthropic", "none")
AUDIT_TEXT_MODES = ("none", "flagged", "all")
DEFAULT_SLACK_API_URL = "https://slack.com/api/"
DEFAULT_POLICY_PATH = Path(__file__).resolve().parent.parent / "policy" / "default.toml"
_RATE_RE = re.compile(r"^\s*(\d+)\s*/\s*(second|minute|hour|day)\s*$")


class SettingsError(ValueError):
    """A setting is missing or malformed; `variable` names it."""

    def __init__(self, variable: str, problem: str) -> None:
        super().__init__(f"{variable}: {problem}")
        self.variable = variable
        self.problem = problem


@dataclass(frozen=True)
class RateLimit:
    count: int
    per_seconds: int

    @classmethod
    def parse(cls, variable: str, raw: str) -> RateLimit | None:
        if not raw.strip() or raw.strip().lower() in ("off", "none", "0"):
            return None
        m = _RATE_RE.match(raw.lower())
        if not m:
            raise SettingsError(variable, f"expected e.g. '20/hour', got {raw!r}")
        unit = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}[m.group(2)]
        return cls(int(m.group(1)), unit)


@dataclass(frozen=True)
class Settings:
    # Slack
    slack_bot_token: str = ""
    slack_signing_secret: str = ""
    slack_app_token: str = ""
    slack_api_url: str = DEFAULT_SLACK_API_URL
    port: int = 3000
    host: str = "0.0.0.0"
    max_body_bytes: int = 1_000_000
    http_threads: int = 8
    answer_processes: int = 0  # 0: answer in the serving process (see bot/answer_workers.py)
    # Model
    llm_provider: str = "none"
    llm_base_url: str = ""
    llm_api_key: str = field(default="", repr=False)
    llm_model: str = ""
    llm_timeout_s: float = 30.0
    llm_max_tokens: int = 1024
    llm_stream: bool = True
    llm_system_prompt: str = ""
    thread_context_chars: int = 12_000
    # Policy
    profile: str = "standard"
    policy_path: Path = DEFAULT_POLICY_PATH
    judge_base_url: str = ""
    judge_api_key: str = field(default="", repr=False)
    judge_model: str = ""
    judge_timeout_s: float = 5.0
    # Store / review / audit
    database_url: str = "sqlite:///redline.db"
    review_channel: str = ""
    admins: tuple[str, ...] = ()
    reviewer_group: str = ""
    review_ttl_h: float = 24.0
    audit_text: str = "flagged"
    audit_salt: str = field(default="", repr=False)
    retention_days: int = 0
    rate_per_user: RateLimit | None = None
    rate_per_workspace: RateLimit | None = None
    # Ops
    log_level: str = "INFO"
    log_json: bool = False

    @property
    def socket_mode(self) -> bool:
        return bool(self.slack_app_token)

    @property
    def model_configured(self) -> bool:
        return self.llm_provider != "none"

    def secrets(self) -> tuple[str, ...]:
        """Values that must never appear in logs, the audit log or Slack messages."""
        values = (
            self.slack_bot_token,
            self.slack_signing_secret,
            self.slack_app_token,
            self.llm_api_key,
            self.judge_api_key,
            self.audit_salt,
        )
        return tuple(v for v in values if len(v) >= 6)

    @classmethod
    def from_env(
        cls, env: Mapping[str, str] | None = None, dotenv_path: str | Path | None = ".env"
    ) -> Settings:
        """Build settings from `env` (default: os.environ) layered over a `.env` file."""
        merged: dict[str, str] = {}
        if dotenv_path is not None and Path(dotenv_path).is_file():
            merged.update({k: v for k, v in dotenv_values(dotenv_path).items() if v is not None})
        merged.update(os.environ if env is None else env)
        return _parse(merged)


def _text(env: Mapping[str, str], name: str, default: str = "") -> str:
    return env.get(name, default).strip()


def _int(env: Mapping[str, str], name: str, default: int, minimum: int = 0) -> int:
    raw = _text(env, name)
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(name, f"expected a whole number, got {raw!r}") from None
    if value < minimum:
        raise SettingsError(name, f"must be at least {minimum}, got {value}")
    return value


def _float(env: Mapping[str, str], name: str, default: float, minimum: float = 0.0) -> float:
    raw = _text(env, name)
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(name, f"expected a number, got {raw!r}") from None
    if value <= minimum:
        raise SettingsError(name, f"must be greater than {minimum:g}, got {raw}")
    return value


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = _text(env, name).lower()
    if not raw:
        return default
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise SettingsError(name, f"expected true or false, got {raw!r}")


def _choice(env: Mapping[str, str], name: str, choices: tuple[str, ...], default: str) -> str:
    raw = _text(env, name).lower() or default
    if raw not in choices:
        raise SettingsError(name, f"must be one of {', '.join(choices)}; got {raw!r}")
    return raw


def _url(env: Mapping[str, str], name: str, default: str = "") -> str:
    raw = _text(env, name) or default
    if raw and not re.match(r"^https?://[^\s/]+", raw):
        raise SettingsError(name, f"expected an http(s) URL, got {raw!r}")
    return raw


def _slack_token(env: Mapping[str, str], name: str, prefixes: tuple[str, ...]) -> str:
    raw = _text(env, name)
    if raw and not raw.startswith(prefixes):
        raise SettingsError(name, f"expected a token starting with {' or '.join(prefixes)}")
    return raw


def _parse(env: Mapping[str, str]) -> Settings:
    provider = _choice(env, "LLM_PROVIDER", LLM_PROVIDERS, "none")
    base_url = _url(env, "LLM_BASE_URL")
    if provider == "openai" and not base_url:
        base_url = "https://api.openai.com/v1"
    if provider == "anthropic" and not base_url:
        base_url = "https://api.anthropic.com"
    model = _text(env, "LLM_MODEL")
    if provider != "none" and not model:
        raise SettingsError("LLM_MODEL", f"required when LLM_PROVIDER={provider}")
    api_key = _text(env, "LLM_API_KEY")
    if provider == "anthropic" and not api_key:
        raise SettingsError("LLM_API_KEY", "required when LLM_PROVIDER=anthropic")

    policy_raw = _text(env, "REDLINE_POLICY")
    policy_path = Path(policy_raw).expanduser() if policy_raw else DEFAULT_POLICY_PATH
    if not policy_path.is_file():
        raise SettingsError("REDLINE_POLICY", f"no policy file at {policy_path}")

    slack_api_url = _url(env, "SLACK_API_URL", DEFAULT_SLACK_API_URL)
    if not slack_api_url.endswith("/"):
        slack_api_url += "/"

    admins = tuple(a.strip() for a in _text(env, "REDLINE_ADMINS").split(",") if a.strip())
    for admin in admins:
        if not re.fullmatch(r"[UW][A-Z0-9]{2,}", admin):
            raise SettingsError("REDLINE_ADMINS", f"{admin!r} is not a Slack user id (U…)")

    database_url = _text(env, "DATABASE_URL") or "sqlite:///redline.db"
    if "://" not in database_url:
        raise SettingsError("DATABASE_URL", "expected a URL such as sqlite:///redline.db")

    values = {
        "slack_bot_token": _slack_token(env, "SLACK_BOT_TOKEN", ("xoxb-",)),
        "slack_signing_secret": _text(env, "SLACK_SIGNING_SECRET"),
        "slack_app_token": _slack_token(env, "SLACK_APP_TOKEN", ("xapp-",)),
        "slack_api_url": slack_api_url,
        "port": _int(env, "PORT", 3000, minimum=1),
        "host": _text(env, "HOST") or "0.0.0.0",
        "max_body_bytes": _int(env, "REDLINE_MAX_BODY_BYTES", 1_000_000, minimum=1024),
        "http_threads": _int(env, "REDLINE_HTTP_THREADS", 8, minimum=1),
        "answer_processes": _int(env, "REDLINE_ANSWER_PROCESSES", 0),
        "llm_provider": provider,
        "llm_base_url": base_url.rstrip("/"),
        "llm_api_key": api_key,
        "llm_model": model,
        "llm_timeout_s": _float(env, "LLM_TIMEOUT_S", 30.0),
        "llm_max_tokens": _int(env, "LLM_MAX_TOKENS", 1024, minimum=1),
        "llm_stream": _bool(env, "LLM_STREAM", True),
        "llm_system_prompt": _text(env, "LLM_SYSTEM_PROMPT"),
        "thread_context_chars": _int(env, "REDLINE_THREAD_CONTEXT_CHARS", 12_000),
        "profile": _choice(env, "REDLINE_PROFILE", PROFILES, "standard"),
        "policy_path": policy_path,
        "judge_base_url": _url(env, "REDLINE_JUDGE_BASE_URL").rstrip("/"),
        "judge_api_key": _text(env, "REDLINE_JUDGE_API_KEY"),
        "judge_model": _text(env, "REDLINE_JUDGE_MODEL"),
        "judge_timeout_s": _float(env, "REDLINE_JUDGE_TIMEOUT_S", 5.0),
        "database_url": database_url,
        "review_channel": _text(env, "REDLINE_REVIEW_CHANNEL"),
        "admins": admins,
        "reviewer_group": _text(env, "REDLINE_REVIEWER_GROUP"),
        "review_ttl_h": _float(env, "REDLINE_REVIEW_TTL_H", 24.0),
        "audit_text": _choice(env, "REDLINE_AUDIT_TEXT", AUDIT_TEXT_MODES, "flagged"),
        "audit_salt": _text(env, "REDLINE_AUDIT_SALT"),
        "retention_days": _int(env, "REDLINE_RETENTION_DAYS", 0),
        "rate_per_user": RateLimit.parse(
            "REDLINE_RATE_PER_USER", _text(env, "REDLINE_RATE_PER_USER")
        ),
        "rate_per_workspace": RateLimit.parse(
            "REDLINE_RATE_PER_WORKSPACE", _text(env, "REDLINE_RATE_PER_WORKSPACE")
        ),
        "log_level": _choice(
            env, "REDLINE_LOG_LEVEL", ("debug", "info", "warning", "error"), "info"
        ).upper(),
        "log_json": _bool(env, "REDLINE_LOG_JSON", False),
    }
    known = {f.name for f in fields(Settings)}
    assert set(values) <= known
    return Settings(**values)
