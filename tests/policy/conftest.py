"""Shared fixtures: the engine built from the shipped policy file and model."""

from __future__ import annotations

import pytest

from bot.policy.engine import PolicyEngine
from bot.settings import Settings


@pytest.fixture(scope="session")
def settings() -> Settings:
    return Settings.from_env(env={}, dotenv_path=None)


@pytest.fixture(scope="session")
def engine(settings: Settings) -> PolicyEngine:
    return PolicyEngine.from_settings(settings)
