"""The app's lifecycle: background tasks stop between steps when the server shuts down."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from cvjobs.app import create_app
from cvjobs.config import Settings
from cvjobs.service.engine import JobEngine


def test_shutdown_lets_an_engine_step_finish(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    steps: list[str] = []

    async def slow_step(self: JobEngine) -> None:
        import asyncio

        steps.append("start")
        await asyncio.sleep(0.3)  # a step that writes in several round trips
        steps.append("end")

    monkeypatch.setattr(JobEngine, "step", slow_step)
    app = create_app(Settings(db=str(tmp_path / "cvjobs.db"), admin_password="x" * 8))
    with TestClient(app):
        deadline = time.monotonic() + 10
        while "start" not in steps and time.monotonic() < deadline:
            time.sleep(0.01)
        assert steps == ["start"]
    assert steps == ["start", "end"]  # shut down only after the step ended
