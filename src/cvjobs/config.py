"""Settings, declared once as fields of `Settings`: name, type, default and help. From
them derive `SETTINGS` (with each one's environment variable and option), which drives the
`cvjobs serve` options, the CVJOBS_* environment variables and the README's settings table
(a test checks that every setting is documented there).

Precedence: command-line option, then environment variable, then default.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any, Final, TypeVar, get_type_hints

from cvjobs.logs import LOG_FORMATS
from cvjobs.ranges import EXACT_MAX


@dataclass(frozen=True, slots=True)
class Setting:
    """A setting as the command line, the environment and the README see it."""

    name: str
    type: type
    default: Any
    help: str

    @property
    def env(self) -> str:
        return "CVJOBS_" + self.name.upper()

    @property
    def flag(self) -> str:
        """The command-line option; a setting that is on by default is turned off."""
        prefix = "--no-" if self.type is bool and self.default else "--"
        return prefix + self.name.replace("_", "-")


T = TypeVar("T")


def _setting(default: T, help: str, *, env_only: bool = False) -> T:
    """A field of Settings: its default and help (its name and type are the field's).
    `env_only`: a secret, read from the environment only, never from an option."""
    return field(default=default, metadata={"help": help, "env_only": env_only})


def host_patterns(text: str) -> tuple[str, ...]:
    """The comma-separated patterns of --webhook-hosts."""
    return tuple(h.strip().lower() for h in text.split(",") if h.strip())


@dataclass(frozen=True, slots=True)
class Settings:
    """Every setting, declared once, in the order `cvjobs serve --help` lists them."""

    host: str = _setting("127.0.0.1", "address to listen on")
    port: int = _setting(8400, "TCP port to listen on")
    reuse_port: bool = _setting(
        False,
        "share the port with other servers on purpose (SO_REUSEPORT: the kernel splits"
        " connections between them); without it a port in use is an error",
    )
    server: str = _setting(
        "granian",
        "the HTTP server: granian (about twice uvicorn's speed here, see"
        " docs/performance.md) or uvicorn",
    )
    workers: int = _setting(
        1,
        "worker processes serving the catalogue; any worker accepts any token, and the"
        " job engine runs in exactly one of them",
    )
    db: str = _setting(
        "cvjobs.db",
        "the job catalogue: a SQLite file path (or sqlite:///absolute/path), or a"
        " PostgreSQL URL postgresql://user@host:port/dbname",
    )
    demo: bool = _setting(False, "fill an empty catalogue with the demo CommCell on start")
    demo_jobs: int = _setting(5000, "how many jobs --demo creates")
    quiet: bool = _setting(
        False,
        "no progress while --demo fills a new catalogue (a bar on a terminal, else a line"
        " every 5 s)",
    )
    seed: int = _setting(42, "random seed of the demo data (same seed, same catalogue)")
    token_idle_minutes: int = _setting(
        30,
        "minutes of inactivity after which a login token expires (a Login may ask for"
        " another timeout)",
    )
    change_retention_days: int = _setting(
        7,
        "days the change log keeps its records (GET /cvjobs/v1/changes); a reader whose"
        " cursor is older gets 410 and reads the jobs again",
    )
    metrics_open: bool = _setting(
        False,
        "serve /metrics without a token (for a Prometheus that sends none); otherwise a"
        " token (Authorization: Bearer) is required and its account's scope applies",
    )
    webhook_hosts: str = _setting(
        "",
        "hosts webhooks may be sent to, comma-separated, `*` standing for one label"
        " (*.example.com,10.1.2.*; a pattern of numbers names addresses only); empty:"
        " any host an administrator names",
    )
    rpo_hours: int = _setting(
        24,
        "hours within which each client should have a successful backup (its recovery"
        " point objective) unless one of its client groups says otherwise (cvjobs rpo);"
        " past it, webhooks hear job.overdue",
    )
    admin_password: str = _setting(
        "",
        "password of the admin account created on first start; empty: a random one is"
        " printed once (environment only, so it never shows in ps)",
        env_only=True,
    )
    engine: bool = _setting(
        True,
        "the job engine: --no-engine turns it off. It moves the demo's and its own active"
        " jobs along, settles their suspend and kill, and starts --demo's new jobs; without"
        " it nothing moves a job by itself and actions settle at once (jobs written by"
        " ingest or import are never moved)",
    )
    engine_speed: int = _setting(
        1, "run the engine's clock this many times faster than real time (demos, tests)"
    )
    demo_job_interval: int = _setting(
        300, "with --demo: engine seconds between the new jobs the engine starts (0: none)"
    )
    commcell_name: str = _setting("cvjobs", "the CommCell name GET CommServ reports")
    job_id_base: int = _setting(
        2**32,
        "the first id of the jobs this server creates (Resubmit, --demo's new jobs); ids"
        " from it up are allocated in turn, so reporters' ids stay below it (a 32-bit"
        " CommServe's always do)",
    )
    max_body_kib: int = _setting(
        64,
        "largest request body of the vendor API's routes, in KiB; a larger one gets 413"
        " before it is read",
    )
    max_ingest_body_mib: int = _setting(
        10, "largest request body of the ingest API (/cvjobs/v1/), in MiB"
    )
    header_timeout_seconds: int = _setting(
        30,
        "seconds a client has to send a request's headers (and that a kept-alive"
        " connection may stay idle) before the connection is closed",
    )
    body_timeout_seconds: int = _setting(
        30,
        "seconds a client has to send a whole request body; a slower one gets 408 and"
        " the connection is closed",
    )
    queue_seconds: int = _setting(
        30,
        "seconds a list request may wait for its turn before it gets 503; a list request"
        " whose client has gone is dropped",
    )
    max_connections: int = _setting(
        1024,
        "connections each worker serves at once; more wait to be accepted (granian) or"
        " get 503 (uvicorn)",
    )
    log_level: str = _setting(
        "info", "server log level: debug, info (one access log line per request), warning, error"
    )
    log_format: str = _setting(
        "text",
        "the server log's lines: text, or json (one object per line, the access log's"
        " fields as keys)",
    )


DEFAULTS: Final = Settings()
_TYPES: Final = get_type_hints(Settings)
SETTINGS: Final[tuple[Setting, ...]] = tuple(
    Setting(f.name, _TYPES[f.name], f.default, f.metadata["help"]) for f in fields(Settings)
)
SETTINGS_BY_NAME: Final = {s.name: s for s in SETTINGS}
ENV_ONLY: Final = frozenset(f.name for f in fields(Settings) if f.metadata["env_only"])


def parse_value(setting: Setting, text: str) -> Any:
    """Parse a setting from text strictly; ValueError says what was wrong."""
    if setting.type is bool:
        folded = text.strip().lower()
        if folded in ("1", "true", "yes", "on"):
            return True
        if folded in ("0", "false", "no", "off", ""):
            return False
        raise ValueError(f"{setting.env}: expected true or false, got {text!r}")
    if setting.type is int:
        try:
            return int(text, 10)
        except ValueError:
            raise ValueError(f"{setting.env}: expected a whole number, got {text!r}") from None
    return text


def load(overrides: Mapping[str, Any], environ: Mapping[str, str] | None = None) -> Settings:
    """Settings from explicit overrides (None means not given), then the environment."""
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for f in fields(Settings):
        setting = SETTINGS_BY_NAME[f.name]
        given = overrides.get(f.name)
        if given is not None:
            values[f.name] = given
        elif setting.env in env:
            values[f.name] = parse_value(setting, env[setting.env])
    settings = Settings(**values)
    _validate(settings)
    return settings


def _validate(settings: Settings) -> None:
    if not 0 <= settings.port <= 65535:
        raise ValueError(f"port must be 0-65535, got {settings.port}")
    if settings.server not in ("granian", "uvicorn"):
        raise ValueError(f"server must be granian or uvicorn, not {settings.server!r}")
    if not 1 <= settings.workers <= 64:
        raise ValueError("workers must be between 1 and 64")
    if not 1 <= settings.change_retention_days <= 3650:
        raise ValueError("change_retention_days must be between 1 and 3650")
    if not 1 <= settings.rpo_hours <= 8760:
        raise ValueError("rpo_hours must be between 1 and 8760 (a year)")
    if settings.token_idle_minutes < 1:
        raise ValueError("token_idle_minutes must be at least 1")
    if not 1 <= settings.engine_speed <= 100_000:
        raise ValueError("engine_speed must be between 1 and 100000")
    if settings.demo_job_interval < 0:
        raise ValueError("demo_job_interval cannot be negative")
    if not 1 <= settings.job_id_base <= EXACT_MAX:
        raise ValueError(f"job_id_base must be between 1 and {EXACT_MAX} (2^53 - 1)")
    if not settings.commcell_name.strip():
        raise ValueError("commcell_name cannot be empty")
    if settings.demo_jobs < 0:
        raise ValueError("demo_jobs cannot be negative")
    if settings.log_level not in ("debug", "info", "warning", "error", "critical"):
        raise ValueError(f"unknown log level {settings.log_level!r}")
    if settings.log_format not in LOG_FORMATS:
        raise ValueError(f"log_format must be text or json, not {settings.log_format!r}")
    if not 1 <= settings.max_body_kib <= 1024 * 1024:
        raise ValueError("max_body_kib must be between 1 and 1048576")
    if not 1 <= settings.max_ingest_body_mib <= 1024:
        raise ValueError("max_ingest_body_mib must be between 1 and 1024")
    for name in ("header_timeout_seconds", "body_timeout_seconds", "queue_seconds"):
        if not 1 <= getattr(settings, name) <= 3600:
            raise ValueError(f"{name} must be between 1 and 3600")
    if not 1 <= settings.max_connections <= 1_000_000:
        raise ValueError("max_connections must be between 1 and 1000000")
    if settings.admin_password and len(settings.admin_password) < 8:
        raise ValueError("CVJOBS_ADMIN_PASSWORD must be at least 8 characters")


def to_environ(settings: Settings) -> dict[str, str]:
    """The settings as CVJOBS_* variables: how worker processes receive them."""
    out = {}
    for f in fields(Settings):
        value = getattr(settings, f.name)
        text = str(value).lower() if isinstance(value, bool) else str(value)
        out[SETTINGS_BY_NAME[f.name].env] = text
    return out
