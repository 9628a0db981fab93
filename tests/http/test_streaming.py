"""A big page is sent as it is rendered: a part at a time, rendered no further once its
client has gone, and its big-page slot let go however it ends."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect
from starlette.testclient import TestClient
from starlette.types import Message

from cvjobs.errors import StoreError
from cvjobs.http import routes, streaming
from cvjobs.render import lists
from tests.conftest import API, JSON_HEADERS
from tests.http.test_hostile import http_scope

BIG = {"limit": "10000"}
EVERY_JOB = "Job?jobFilter=&completedJobLookupTime=2000000000"  # the demo's 301, a part each
JOBS = 301


class Client:
    """An ASGI client that reads the page's head and `parts` body parts, then hangs up
    (`gone_by` says how: a disconnect on receive, or a send that raises, as granian's
    does), or reads it all with `parts` None."""

    def __init__(self, parts: int | None, gone_by: str = "receive") -> None:
        self.parts = parts
        self.gone_by = gone_by
        self.sent: list[Message] = []
        self.hung_up = asyncio.Event()
        self._asked = False

    async def receive(self) -> Message:
        if not self._asked:
            self._asked = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await self.hung_up.wait()
        return {"type": "http.disconnect"}

    async def send(self, message: Message) -> None:
        if self.hung_up.is_set() and self.gone_by == "send":
            raise ClientDisconnect()
        self.sent.append(message)
        bodies = [m for m in self.sent if m["type"] == "http.response.body"]
        if self.parts is not None and len(bodies) >= self.parts:
            self.hung_up.set()

    async def get(self, app: Starlette, token: str, path: str = EVERY_JOB) -> None:
        headers = {"Authtoken": token, **JSON_HEADERS, **BIG}
        scope = http_scope(app, "GET", API + path, headers)
        await app(scope, self.receive, self.send)

    @property
    def body(self) -> bytes:
        return b"".join(m["body"] for m in self.sent if m["type"] == "http.response.body")


@pytest.fixture
def rendered(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Parts rendered so far, counted as the page renders them (a part a job)."""
    monkeypatch.setattr(routes, "PART_JOBS", 1)
    count = [0]
    rendering = lists.job_list_parts

    def counted(*args: Any) -> Iterator[bytes]:
        for piece in rendering(*args):
            count[0] += 1
            yield piece

    monkeypatch.setattr(lists, "job_list_parts", counted)
    return count


def on_loop(client: TestClient, *readers: Client, token: str) -> Starlette:
    """Each reader's GET of a big page, one after the other, on the app's loop."""
    app = client.app
    assert isinstance(app, Starlette)

    async def run() -> None:
        for reader in readers:
            await reader.get(app, token)

    assert client.portal is not None
    client.portal.call(run)
    return app


def test_a_big_page_is_sent_as_it_is_rendered(
    client: TestClient, token: str, rendered: list[int]
) -> None:
    parts_at_send: list[int] = []
    reader = Client(None)
    sending = reader.send

    async def send(message: Message) -> None:
        parts_at_send.append(rendered[0])
        await sending(message)

    reader.send = send  # type: ignore[method-assign]
    on_loop(client, reader, token=token)
    parts = rendered[0]
    whole = client.get(API + EVERY_JOB, headers={"Authtoken": token, **JSON_HEADERS, **BIG})
    assert reader.body == whole.content and len(whole.json()["jobs"]) == JOBS
    start = next(m for m in reader.sent if m["type"] == "http.response.start")
    assert (b"content-type", b"application/json") in start["headers"]
    # The head went before anything was rendered, and each part as soon as it was.
    assert parts_at_send[:3] == [0, 1, 2]
    assert parts_at_send[-1] == parts == JOBS + 2  # the head, a part a job, the tail


@pytest.mark.parametrize("gone_by", ["receive", "send"])
def test_a_big_page_whose_client_hangs_up_is_rendered_no_further(
    client: TestClient,
    token: str,
    rendered: list[int],
    gone_by: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    leaver = Client(3, gone_by)
    with caplog.at_level(logging.DEBUG, logger="cvjobs"):
        app = on_loop(client, leaver, token=token)
    assert rendered[0] <= 5, rendered  # of JOBS + 2
    assert not any(m.get("more_body") is False for m in leaver.sent)  # never ended
    assert [r.levelname for r in caplog.records if "hung up" in r.getMessage()] == ["DEBUG"]
    assert not any(r.exc_info for r in caplog.records)
    # The big-page slot was let go: the next big page is answered in full.
    assert not app.state.services.big_pages.locked()
    stayer = Client(None)
    on_loop(client, stayer, token=token)
    assert stayer.body.endswith(b"]}") and stayer.body.count(b'"jobSummary"') == JOBS


@pytest.mark.parametrize(
    ("deadline", "pause", "parts", "said"),
    [
        ("STALL_SECONDS", 3600.0, 1, "stopped reading for 0.2 s"),
        ("SEND_SECONDS", 0.05, 4, "not the whole page, in 0.2 s"),
    ],
    ids=["stops-reading", "reads-too-slowly"],
)
def test_a_client_that_does_not_read_the_page_in_time_is_cut_off_and_lets_its_slot_go(
    client: TestClient,
    token: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    deadline: str,
    pause: float,
    parts: int,
    said: str,
) -> None:
    monkeypatch.setattr(streaming, deadline, 0.2)
    slow = Client(None)
    sending = slow.send

    async def send(message: Message) -> None:
        await sending(message)
        if message["type"] == "http.response.body":
            await asyncio.sleep(pause)  # the socket's buffers are full until the client reads

    slow.send = send  # type: ignore[method-assign]
    with caplog.at_level(logging.INFO, logger="cvjobs"):
        app = on_loop(client, slow, token=token)
    bodies = [m for m in slow.sent if m["type"] == "http.response.body"]
    assert 1 <= len(bodies) <= parts + 1 and bodies[-1]["more_body"]  # never ended
    (line,) = [r.getMessage() for r in caplog.records if "cut off" in r.getMessage()]
    assert said in line
    assert not app.state.services.big_pages.locked()


def test_a_big_page_that_fails_before_it_is_sent_lets_its_slot_go(
    client: TestClient, token: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = client.app
    assert isinstance(app, Starlette)

    async def failing(*args: Any) -> Any:
        raise StoreError("the catalogue failed: disk I/O error")

    monkeypatch.setattr(app.state.services.jobs, "find", failing)
    failed = Client(None)
    on_loop(client, failed, token=token)
    assert failed.sent[0]["status"] == 503
    assert not app.state.services.big_pages.locked()
