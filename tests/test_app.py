"""The app's lifecycle: background tasks stop between steps when the server shuts down; a
server's app puts what it built at start out of the garbage collector's sight."""

from __future__ import annotations

import gc
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


@pytest.mark.parametrize("server", [True, False])
def test_a_servers_app_freezes_what_it_built_at_start_and_only_a_servers(
    tmp_path: Path, server: bool
) -> None:
    gc.unfreeze()
    settings = Settings(db=str(tmp_path / "cvjobs.db"), admin_password="x" * 8)
    app = create_app(settings, server=server, run_engine=False)
    try:
        with TestClient(app) as client:
            frozen = gc.get_freeze_count()
            services = app.state.services  # built at start, so among what was frozen
            seen = any(o is services for o in gc.get_objects())  # what collections walk
            assert client.get("/webconsole/api/").status_code == 200
        assert (frozen > 10_000, seen) == (server, not server), frozen
    finally:
        gc.unfreeze()  # this process builds many apps
