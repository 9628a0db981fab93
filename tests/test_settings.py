"""Settings are declared once, as the fields of config.Settings: the table of settings,
the options and environment variables, and the defaults used elsewhere derive from them."""

from __future__ import annotations

import argparse

from cvjobs import cli, config
from cvjobs.config import DEFAULTS, ENV_ONLY, SETTINGS, SETTINGS_BY_NAME, Settings
from cvjobs.http import uvicorn_protocol

# (name, type, default) of every setting, in order, as the settings table read before
# the dataclass became its only declaration.
DECLARED = [
    ("host", str, "127.0.0.1"),
    ("port", int, 8400),
    ("reuse_port", bool, False),
    ("server", str, "granian"),
    ("workers", int, 1),
    ("db", str, "cvjobs.db"),
    ("demo", bool, False),
    ("demo_jobs", int, 5000),
    ("quiet", bool, False),
    ("seed", int, 42),
    ("token_idle_minutes", int, 30),
    ("change_retention_days", int, 7),
    ("metrics_open", bool, False),
    ("webhook_hosts", str, ""),
    ("rpo_hours", int, 24),
    ("admin_password", str, ""),
    ("engine", bool, True),
    ("engine_speed", int, 1),
    ("demo_job_interval", int, 300),
    ("commcell_name", str, "cvjobs"),
    ("job_id_base", int, 2**32),
    ("max_body_kib", int, 64),
    ("max_ingest_body_mib", int, 10),
    ("header_timeout_seconds", int, 30),
    ("body_timeout_seconds", int, 30),
    ("queue_seconds", int, 30),
    ("max_connections", int, 1024),
    ("log_level", str, "info"),
    ("log_format", str, "text"),
]


def test_the_table_derives_from_the_dataclass() -> None:
    assert [(s.name, s.type, s.default) for s in SETTINGS] == DECLARED
    assert DEFAULTS == Settings() == config.load({}, {})
    assert all(s.help and not s.help.endswith(".") for s in SETTINGS)
    assert {"admin_password"} == ENV_ONLY
    assert SETTINGS_BY_NAME["engine"].flag == "--no-engine"
    assert SETTINGS_BY_NAME["demo_jobs"].flag == "--demo-jobs"
    assert SETTINGS_BY_NAME["demo_jobs"].env == "CVJOBS_DEMO_JOBS"


def test_uvicorns_header_deadline_is_the_settings() -> None:
    # The http layer does not import config (tests/test_layers.py): the dispatcher takes
    # its deadlines from the app factory; uvicorn's worker processes read the variable.
    assert SETTINGS_BY_NAME["header_timeout_seconds"].env == uvicorn_protocol._ENV
    assert uvicorn_protocol.HeaderDeadlineProtocol.header_seconds == (
        DEFAULTS.header_timeout_seconds
    )


def test_the_demo_and_import_options_show_the_settings_defaults() -> None:
    parser = cli.build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    demo: argparse.ArgumentParser = commands.choices["demo"]
    options = {a.dest: a for a in demo._actions}
    assert (
        options["jobs"].default == 5000 and options["jobs"].help == "how many jobs (default: 5000)"
    )
    assert options["seed"].default == 42 and options["seed"].help == "random seed (default: 42)"
    assert options["db"].help == "the catalogue (default: cvjobs.db) [CVJOBS_DB]"
