"""Settings are validated once per cold start (once per distinct environment), and stay right when it changes."""

from __future__ import annotations

import pytest

import controlroom.settings as settings_module
from controlroom.errors import ConfigurationError
from controlroom.settings import reset_settings, settings


@pytest.fixture
def validations(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, str]]:
    """Every environment load_settings validates from now on; the cache starts empty."""
    calls: list[dict[str, str]] = []
    real = settings_module.load_settings

    def counting(environ: dict[str, str] | None = None) -> settings_module.Settings:
        calls.append(dict(environ or {}))
        return real(environ)

    monkeypatch.setattr(settings_module, "load_settings", counting)
    reset_settings()
    yield calls
    reset_settings()


def test_one_environment_is_validated_once(monkeypatch: pytest.MonkeyPatch, validations: list) -> None:
    # Given a function's environment
    monkeypatch.setenv("ENVIRONMENT", "dev")
    monkeypatch.setenv("CONFIDENCE_THRESHOLD", "0.7")
    # When the runtime asks for settings on every invocation
    first, *rest = [settings() for _ in range(5)]
    # Then the environment was validated once and every call got the same settings
    assert len(validations) == 1
    assert first.ENVIRONMENT == "dev" and first.CONFIDENCE_THRESHOLD == 0.7
    assert all(other is first for other in rest)


def test_another_environment_in_the_same_process_gets_its_own_settings(
    monkeypatch: pytest.MonkeyPatch, validations: list
) -> None:
    # Given the local engine running two agents with different variables in one process
    monkeypatch.setenv("AGENT_NAME", "plan")
    assert settings().AGENT_NAME == "plan"
    monkeypatch.setenv("AGENT_NAME", "policy")
    # Then each invocation sees its own, and going back to the first validates nothing new
    assert settings().AGENT_NAME == "policy"
    monkeypatch.setenv("AGENT_NAME", "plan")
    assert settings().AGENT_NAME == "plan"
    assert len(validations) == 2
    # and a variable Settings does not read is not part of the key
    monkeypatch.setenv("SOMETHING_ELSE", "x")
    settings()
    assert len(validations) == 2


def test_a_bad_value_fails_every_time_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, validations: list
) -> None:
    monkeypatch.setenv("CONFIDENCE_THRESHOLD", "1.5")
    for _ in range(2):
        with pytest.raises(ConfigurationError, match="CONFIDENCE_THRESHOLD"):
            settings()
    assert len(validations) == 2
