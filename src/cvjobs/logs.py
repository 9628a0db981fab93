"""The server's own log: every `cvjobs.*` logger (the engine, the HTTP layer) writes to
standard error at the `--log-level`, as text lines or, with `--log-format json`, one JSON
object per line; the access log writes lines of the same shapes itself
(cvjobs.http.access_log). Each server process (every worker) sets it up once; granian's
and uvicorn's own loggers are theirs."""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any, Final

LOG_FORMATS: Final = ("text", "json")
_HANDLER_NAME = "cvjobs"


def shown(text: str) -> str:
    """Text as a terminal or a log reader may show it: control and format characters
    (line feeds, tabs, ANSI escapes, bidirectional overrides) as escapes, so that no
    value (a user name sent to Login, a path) can forge a line or a column, nor restyle
    the terminal."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


class TextFormatter(logging.Formatter):
    """Text lines whose message cannot break the line (a path named in a debug line may
    hold a line feed); a traceback below it keeps its own lines."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def formatMessage(self, record: logging.LogRecord) -> str:
        record.message = shown(record.message)
        return super().formatMessage(record)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=True, default=str)


def configure(level: str, fmt: str) -> None:
    """Send the `cvjobs` loggers to standard error at `level`, in `fmt` (replacing what an
    earlier call set up: a test may make several apps in one process)."""
    logger = logging.getLogger("cvjobs")
    for handler in [h for h in logger.handlers if h.get_name() == _HANDLER_NAME]:
        logger.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler.set_name(_HANDLER_NAME)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    logger.addHandler(handler)
    logger.setLevel(level.upper())
    logger.propagate = False
