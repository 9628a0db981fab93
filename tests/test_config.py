"""Settings: one table drives options, environment variables and the README."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import pytest

from cvjobs.config import SETTINGS, Settings, load

README = Path(__file__).parent.parent / "README.md"

# The defaults as the README's settings table documents them (`cvjobs serve --help` shows
# the table's), written out here rather than read from cvjobs.config.
DOCUMENTED = {
    "host": "127.0.0.1",
    "port": 8400,
    "reuse_port": False,
    "server": "granian",
    "workers": 1,
    "db": "cvjobs.db",
    "demo": False,
    "demo_jobs": 5000,
    "quiet": False,
    "seed": 42,
    "token_idle_minutes": 30,
    "change_retention_days": 7,
    "metrics_open": False,
    "webhook_hosts": "",
    "rpo_hours": 24,
    "admin_password": "",  # none: a random one is printed on first start
    "engine": True,
    "engine_speed": 1,
    "demo_job_interval": 300,
    "commcell_name": "cvjobs",
    "job_id_base": 4_294_967_296,  # 2^32
    "max_body_kib": 64,
    "max_ingest_body_mib": 10,
    "header_timeout_seconds": 30,
    "body_timeout_seconds": 30,
    "queue_seconds": 30,
    "max_connections": 1024,
    "log_level": "info",
    "log_format": "text",
}


def test_defaults() -> None:
    assert asdict(load({}, {})) == DOCUMENTED
    assert asdict(Settings()) == DOCUMENTED


def test_the_settings_table_has_the_documented_defaults() -> None:
    """The table's defaults are the ones `--help` prints and the README shows."""
    assert {s.name: s.default for s in SETTINGS} == DOCUMENTED


def readme_defaults() -> dict[str, str]:
    """The Default column of the README's settings table, by environment variable."""
    found = {}
    for line in README.read_text().splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) > 2 and cells[1].startswith("`CVJOBS_"):
            found[cells[1].strip("`")] = cells[2]
    return found


def test_the_readme_shows_the_documented_defaults() -> None:
    shown = readme_defaults()
    for name, value in DOCUMENTED.items():
        cell = shown["CVJOBS_" + name.upper()]
        if name == "admin_password":
            assert cell == "random"
        elif isinstance(value, bool):
            assert cell == ("on" if value else "off"), name
        else:
            assert cell.split(" (")[0] == str(value), name  # "4294967296 (2^32)"


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
        ({"CVJOBS_CHANGE_RETENTION_DAYS": "0"}, "change_retention_days"),
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
