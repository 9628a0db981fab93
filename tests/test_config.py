"""Settings: one table drives options, environment variables and the README."""

from __future__ import annotations

from pathlib import Path

import pytest

from cvjobs.config import SETTINGS, Settings, load

README = Path(__file__).parent.parent / "README.md"


def test_defaults() -> None:
    assert load({}, {}) == Settings()


def test_environment_and_precedence() -> None:
    env = {"CVJOBS_PORT": "9000", "CVJOBS_DEMO": "yes", "CVJOBS_DB": "/x.db"}
    settings = load({"db": "/y.db"}, env)
    assert settings.port == 9000 and settings.demo is True and settings.db == "/y.db"


@pytest.mark.parametrize(
    ("env", "words"),
    [
        ({"CVJOBS_PORT": "eighty"}, "CVJOBS_PORT: expected a whole number"),
        ({"CVJOBS_DEMO": "perhaps"}, "CVJOBS_DEMO: expected true or false"),
        ({"CVJOBS_PORT": "70000"}, "port must be"),
        ({"CVJOBS_TOKEN_IDLE_MINUTES": "0"}, "token_idle_minutes"),
        ({"CVJOBS_ADMIN_PASSWORD": "short"}, "at least 8"),
        ({"CVJOBS_LOG_LEVEL": "loud"}, "log level"),
    ],
)
def test_bad_values_are_refused(env: dict[str, str], words: str) -> None:
    with pytest.raises(ValueError, match=words):
        load({}, env)


def test_every_setting_is_in_the_dataclass_and_the_readme() -> None:
    readme = README.read_text()
    assert {s.name for s in SETTINGS} == set(Settings.__dataclass_fields__)
    for setting in SETTINGS:
        assert setting.env in readme, f"{setting.env} is not documented in the README"
        assert getattr(Settings(), setting.name) == setting.default
