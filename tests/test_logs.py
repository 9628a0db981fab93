"""The server's own log lines: no message can forge a line, in text or JSON."""

from __future__ import annotations

import json
import logging
import sys

from cvjobs.logs import JsonFormatter, TextFormatter


def record(message: str, *args: object, exc: bool = False) -> logging.LogRecord:
    info = None
    if exc:
        try:
            raise ValueError("boom")
        except ValueError:
            info = sys.exc_info()
    return logging.LogRecord("cvjobs.http", logging.DEBUG, __file__, 1, message, args, info)


def test_a_text_message_stays_on_its_line() -> None:
    line = TextFormatter().format(record("%s %s: gone", "POST", "/x\nINFO forged\x1b[2J"))
    assert "\n" not in line and "\x1b" not in line
    assert line.endswith("DEBUG cvjobs.http: POST /x\\nINFO forged\\x1b[2J: gone")


def test_a_traceback_keeps_its_lines_below_the_message() -> None:
    text = TextFormatter().format(record("failed %s", "a\nb", exc=True))
    first, *rest = text.splitlines()
    assert first.endswith("failed a\\nb") and rest[-1] == "ValueError: boom"


def test_json_lines_are_one_object_each() -> None:
    line = JsonFormatter().format(record("%s", "a\nb", exc=True))
    entry = json.loads(line)
    assert "\n" not in line and entry["message"] == "a\nb" and "ValueError" in entry["exception"]
