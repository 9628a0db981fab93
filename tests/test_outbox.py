"""Webhook deliveries to a real HTTP receiver on loopback, on both backends: signed as the
Standard Webhooks library verifies, retried with backoff after failures and honouring
Retry-After, a 410 disabling the hook, redirects refused, scopes kept, and nothing lost
between the making of a delivery and its sending."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
from standardwebhooks import Webhook as Verifier

from cvjobs import outbox as outboxes
from cvjobs.errors import BadRequest, NoSuchWebhook
from cvjobs.model import Job, JobRecord, Ref
from cvjobs.outbox import Outbox
from cvjobs.render.webhooks import message
from cvjobs.service import webhooks as hooks
from cvjobs.service.webhooks import WebhookService
from cvjobs.store import open_store
from cvjobs.store.protocols import Store
from tests.catalogues import Catalogue
from tests.store.loop import event_loop_per_test, run  # noqa: F401 - autouse: the loop

pytestmark = pytest.mark.postgres_too


@dataclass
class Receiver:
    """An HTTP endpoint on loopback that answers each POST with the next of `answers`
    (then 200) and keeps what it was sent."""

    answers: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    received: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode().split("\r\n")[1:]
        headers = {k.lower(): v.strip() for k, _, v in (h.partition(":") for h in lines if h)}
        body = await reader.readexactly(int(headers.get("content-length", "0")))
        self.received.append((headers, body))
        status, extra = self.answers.pop(0) if self.answers else (200, {})
        if status == 0:  # no answer: wait until the outbox gives up and hangs up
            await reader.read()
            writer.close()
            return
        more = "".join(f"{k}: {v}\r\n" for k, v in extra.items())
        writer.write(
            f"HTTP/1.1 {status} X\r\nContent-Length: 0\r\n{more}Connection: close\r\n\r\n".encode()
        )
        await writer.drain()
        writer.close()


@asynccontextmanager
async def receiving(receiver: Receiver) -> AsyncIterator[Receiver]:
    server = await asyncio.start_server(receiver.handle, "127.0.0.1", 0)
    receiver.port = server.sockets[0].getsockname()[1]
    try:
        yield receiver
    finally:
        server.close()
        await server.wait_closed()


class Clock:
    """Now, moved on by hand (receivers check a signature's timestamp against theirs)."""

    def __init__(self) -> None:
        self.now = float(int(time.time()))

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def store(empty_catalogue: Catalogue) -> Iterator[Store]:
    s = run(open_store(empty_catalogue.url))
    yield s
    run(s.close())


def job(job_id: int, status: str, client: int = 2) -> JobRecord:
    return JobRecord(
        Job(job_id=job_id, status=status, job_type="Backup", client=Ref(client, f"c{client}"))
    )


def scenario(store: Store, answers: list[tuple[int, dict[str, str]]], body: Any) -> Any:
    """Run `body(service, receiver, clock)` against a receiver giving `answers`."""

    async def go() -> Any:
        async with receiving(Receiver(answers=list(answers))) as receiver:
            clock = Clock()
            service = WebhookService(store, store, message, clock=clock)
            return await body(service, Outbox(store, clock=clock), receiver, clock)

    return run(go())


def test_a_failed_job_is_told_signed_as_the_spec_says(store: Store) -> None:
    async def body(
        service: WebhookService, outbox: Outbox, receiver: Receiver, clock: Clock
    ) -> None:
        hook = await service.add(receiver.url, ["job.failed"], [])
        await store.upsert_jobs([job(1, "Running"), job(2, "Completed")])
        await store.upsert_jobs([job(1, "Failed")])
        await outbox.step()
        [(headers, sent)] = receiver.received  # job 2's Completed is not subscribed to
        message = Verifier(hook.secret).verify(sent, headers)
        assert message["type"] == "job.failed"
        assert message["data"]["jobSummary"]["jobId"] == 1
        assert message["data"]["jobSummary"]["status"] == "Failed"
        assert headers["webhook-timestamp"] == str(int(clock.now))
        [delivery] = await store.deliveries(hook.hook_id, 10)
        assert (delivery.state, delivery.attempts, delivery.last_status) == ("delivered", 1, 200)
        await outbox.step()
        assert len(receiver.received) == 1  # delivered once

    scenario(store, [], body)


def test_a_failing_endpoint_is_tried_again_with_backoff_and_the_same_id(store: Store) -> None:
    async def body(
        service: WebhookService, outbox: Outbox, receiver: Receiver, clock: Clock
    ) -> None:
        hook = await service.add(receiver.url, ["job.created"], [])
        await store.upsert_jobs([job(1, "Running")])
        await outbox.step()  # 500
        [d] = await store.deliveries(hook.hook_id, 10)
        assert (d.state, d.attempts, d.last_status) == ("pending", 1, 500)
        assert clock.now + 4 <= d.next_at <= clock.now + 6  # 5 s, give or take a tenth
        await outbox.step()
        assert len(receiver.received) == 1  # not due yet
        clock.now = d.next_at
        await outbox.step()  # 429 with Retry-After 120
        [d] = await store.deliveries(hook.hook_id, 10)
        assert d.state == "pending" and d.next_at >= clock.now + 120
        clock.now = d.next_at
        await outbox.step()
        [d] = await store.deliveries(hook.hook_id, 10)
        assert (d.state, d.attempts) == ("delivered", 3)
        ids = {headers["webhook-id"] for headers, _ in receiver.received}
        assert len(receiver.received) == 3 and len(ids) == 1

    scenario(store, [(500, {}), (429, {"Retry-After": "120"})], body)


def test_a_delivery_is_failed_after_its_last_retry(store: Store) -> None:
    async def body(
        service: WebhookService, outbox: Outbox, receiver: Receiver, clock: Clock
    ) -> None:
        hook = await service.add(receiver.url, ["job.created"], [])
        await store.upsert_jobs([job(1, "Running")])
        for _ in range(len(outboxes.RETRIES) + 1):
            await outbox.step()
            [d] = await store.deliveries(hook.hook_id, 10)
            clock.now = max(clock.now, d.next_at)
        assert (d.state, d.attempts) == ("failed", len(outboxes.RETRIES) + 1)
        assert sum(outboxes.RETRIES) / 3600 > 60  # about three days in all

    scenario(store, [(503, {})] * 20, body)


def test_gone_disables_the_hook_and_a_redirect_is_not_followed(store: Store) -> None:
    async def body(
        service: WebhookService, outbox: Outbox, receiver: Receiver, clock: Clock
    ) -> None:
        moved = await service.add(receiver.url, ["job.created"], [])
        await store.upsert_jobs([job(1, "Running")])
        await outbox.step()  # 302 elsewhere: not followed, tried again later
        [d] = await store.deliveries(moved.hook_id, 10)
        assert d.state == "pending" and "redirected" in d.last_error
        assert len(receiver.received) == 1
        clock.now = d.next_at
        await outbox.step()  # 410
        [d] = await store.deliveries(moved.hook_id, 10)
        [hook] = await store.webhooks()
        assert d.state == "failed" and not hook.enabled and "410" in hook.disabled_reason
        await store.upsert_jobs([job(2, "Running")])
        await outbox.step()
        assert len(receiver.received) == 2  # a disabled hook hears nothing more

    scenario(store, [(302, {"Location": "http://elsewhere.invalid/"}), (410, {})], body)


def test_a_hook_for_some_clients_hears_only_of_their_jobs(store: Store) -> None:
    async def body(
        service: WebhookService, outbox: Outbox, receiver: Receiver, clock: Clock
    ) -> None:
        await service.add(receiver.url, ["job.created"], [3])
        await store.upsert_jobs([job(1, "Running", client=2), job(2, "Running", client=3)])
        await outbox.step()
        assert [json.loads(b)["data"]["jobSummary"]["jobId"] for _, b in receiver.received] == [2]

    scenario(store, [], body)


def test_deliveries_made_survive_the_maker_and_a_hook_starts_from_now(store: Store) -> None:
    async def body(
        service: WebhookService, outbox: Outbox, receiver: Receiver, clock: Clock
    ) -> None:
        await store.upsert_jobs([job(1, "Failed")])  # before the hook: never told
        hook = await service.add(receiver.url, ["job.finished"], [])
        await store.upsert_jobs([job(2, "Completed")])
        [current] = await store.webhooks()
        await outbox._enqueue(current)  # made, and then the process dies before sending
        assert [d.state for d in await store.deliveries(hook.hook_id, 10)] == ["pending"]
        fresh = Outbox(store, clock=clock)  # the next leader
        await fresh.step()
        assert [json.loads(b)["data"]["jobSummary"]["jobId"] for _, b in receiver.received] == [2]

    scenario(store, [], body)


def test_bad_webhooks_are_refused_with_what_is_wrong(store: Store) -> None:
    async def body(
        service: WebhookService, outbox: Outbox, receiver: Receiver, clock: Clock
    ) -> None:
        for url, events, words in (
            ("ftp://x/", ["job.failed"], "http:// or https://"),
            ("http:///nohost", ["job.failed"], "with a host"),
            (receiver.url, ["job.exploded"], "unknown events job.exploded"),
            (receiver.url, [], "(none given)"),
        ):
            with pytest.raises(BadRequest, match=words.replace("(", r"\(").replace(")", r"\)")):
                await service.add(url, events, [])
        with pytest.raises(BadRequest, match="whsec_"):
            await service.add(receiver.url, ["job.failed"], [], secret="whsec_!!!")
        assert await store.webhooks() == []

    scenario(store, [], body)


def test_the_test_message_reaches_the_endpoint(store: Store) -> None:
    async def body(
        service: WebhookService, outbox: Outbox, receiver: Receiver, clock: Clock
    ) -> None:
        hook = await service.add(receiver.url, ["job.failed"], [], secret=hooks.new_secret())
        await service.queue_test(hook.hook_id)
        await outbox.step()
        [(headers, sent)] = receiver.received
        assert Verifier(hook.secret).verify(sent, headers)["type"] == "webhook.test"
        [d] = await store.deliveries(hook.hook_id, 10)
        assert await store.replay_delivery(d.delivery_id, int(clock.now))
        await outbox.step()
        assert len(receiver.received) == 2

    scenario(store, [], body)


def test_deliveries_done_are_pruned_and_pending_ones_kept(store: Store) -> None:
    async def body(
        service: WebhookService, outbox: Outbox, receiver: Receiver, clock: Clock
    ) -> None:
        hook = await service.add(receiver.url, ["job.created"], [])
        await store.upsert_jobs([job(1, "Running"), job(2, "Running")])
        await outbox.step()  # job 1's delivered; job 2's refused, pending
        states = sorted(d.state for d in await store.deliveries(hook.hook_id, 10))
        assert states == ["delivered", "pending"]
        await outbox.prune(int(clock.now) + 1)
        assert [d.state for d in await store.deliveries(hook.hook_id, 10)] == ["pending"]

    scenario(store, [(200, {}), (500, {})], body)


def test_a_cursor_past_the_head_starts_again_from_now(
    store: Store, empty_catalogue: Catalogue, caplog: pytest.LogCaptureFixture
) -> None:
    async def body(
        service: WebhookService, outbox: Outbox, receiver: Receiver, clock: Clock
    ) -> None:
        hook = await service.add(receiver.url, ["job.created"], [])
        moved = f"UPDATE webhooks SET cursor_seq = 999 WHERE id = {hook.hook_id}"
        await asyncio.to_thread(empty_catalogue.sql, moved)  # (PostgreSQL's: its own loop)
        await outbox.step()
        await outbox.step()  # one warning, not one a second
        await store.upsert_jobs([job(1, "Running")])
        await outbox.step()
        assert [json.loads(b)["data"]["jobSummary"]["jobId"] for _, b in receiver.received] == [1]

    scenario(store, [], body)
    warnings = [r for r in caplog.records if "past the change log's head" in r.getMessage()]
    assert len(warnings) == 1


def test_a_hook_gone_in_the_middle_of_a_round_is_sent_nothing_more(store: Store) -> None:
    async def body(
        service: WebhookService, outbox: Outbox, receiver: Receiver, clock: Clock
    ) -> None:
        hook = await service.add(receiver.url, ["job.created"], [])
        await store.upsert_jobs([job(1, "Running"), job(2, "Running")])
        await outbox.step()  # both due in one round: the first answer is 410
        assert len(receiver.received) == 1
        states = sorted(d.state for d in await store.deliveries(hook.hook_id, 10))
        assert states == ["failed", "pending"]

    scenario(store, [(410, {})], body)


def test_a_rotated_secret_signs_beside_the_old_one_until_its_time(store: Store) -> None:
    async def body(
        service: WebhookService, outbox: Outbox, receiver: Receiver, clock: Clock
    ) -> None:
        old = await service.add(receiver.url, ["job.created"], [])
        new = await service.rotate(old.hook_id, keep_old_hours=2)
        assert new.secret != old.secret and new.old_secret_until == int(clock.now) + 7200
        await store.upsert_jobs([job(1, "Running")])
        await outbox.step()
        [(headers, sent)] = receiver.received
        assert len(headers["webhook-signature"].split(" ")) == 2
        for secret in (old.secret, new.secret):  # a receiver on either secret accepts it
            assert Verifier(secret).verify(sent, headers)["type"] == "job.created"
        assert new.secrets_at(clock.now + 7199) == (new.secret, old.secret)
        assert new.secrets_at(clock.now + 7200) == (new.secret,)  # then the new one alone
        newest = await service.rotate(old.hook_id, keep_old_hours=0)  # at once
        await store.upsert_jobs([job(2, "Running")])
        await outbox.step()
        headers, sent = receiver.received[1]
        assert len(headers["webhook-signature"].split(" ")) == 1
        Verifier(newest.secret).verify(sent, headers)
        with pytest.raises(Exception, match="No matching signature"):
            Verifier(new.secret).verify(sent, headers)

    scenario(store, [], body)


SLACK = (
    '{"text": {{ ("Job %s on %s: %s" | format(job.jobId, job.subclient.clientName,'
    " job.status)) | tojson }}}"
)


def test_a_template_makes_a_chat_message_signed_as_sent(store: Store) -> None:
    async def body(
        service: WebhookService, outbox: Outbox, receiver: Receiver, clock: Clock
    ) -> None:
        hook = await service.add(receiver.url, ["job.failed"], [], template=SLACK)
        await store.upsert_jobs([job(7, "Failed", client=3)])
        await outbox.step()
        [(headers, sent)] = receiver.received
        assert json.loads(sent) == {"text": "Job 7 on c3: Failed"}
        Verifier(hook.secret).verify(sent, headers)  # the signature is over what was sent
        # The delivery keeps the standard message: a changed template applies to replays.
        [d] = await store.deliveries(hook.hook_id, 10)
        assert json.loads(d.body)["type"] == "job.failed"

    scenario(store, [], body)


@pytest.mark.parametrize(
    ("template", "why"),
    [
        ("not json {{ job.jobId }}", "made no JSON"),
        ('{"a": {{ job.__class__.__mro__ }}}', "failed: SecurityError"),
        ("{{ range(10**7) | list }}", "failed"),
    ],
)
def test_a_template_that_fails_sends_nothing_and_says_why(
    store: Store, template: str, why: str
) -> None:
    async def body(
        service: WebhookService, outbox: Outbox, receiver: Receiver, clock: Clock
    ) -> None:
        hook = await service.add(receiver.url, ["job.created"], [], template=template)
        await store.upsert_jobs([job(1, "Running")])
        await outbox.step()
        assert receiver.received == []
        [d] = await store.deliveries(hook.hook_id, 10)
        assert d.state == "pending" and d.attempts == 1 and why in d.last_error
        await service.set_template(hook.hook_id, "")  # fixed: the retry is sent
        clock.now += 10
        await outbox.step()
        assert len(receiver.received) == 1

    scenario(store, [], body)


def test_a_template_that_does_not_compile_is_refused(store: Store) -> None:
    async def body(
        service: WebhookService, outbox: Outbox, receiver: Receiver, clock: Clock
    ) -> None:
        with pytest.raises(BadRequest, match="does not compile"):
            await service.add(receiver.url, ["job.created"], [], template="{{ job.jobId ")
        with pytest.raises(BadRequest, match="does not compile"):
            await service.add(receiver.url, ["job.created"], [], template="{{ 1 | nosuch }}")
        assert await store.webhooks() == []

    scenario(store, [], body)


def test_hosts_not_allowed_are_refused_when_added_and_when_sent(store: Store) -> None:
    async def body(
        service: WebhookService, outbox: Outbox, receiver: Receiver, clock: Clock
    ) -> None:
        await service.add(receiver.url, ["job.created"], [])  # any host: none named
        narrow = WebhookService(store, store, message, allowed_hosts=("*.example.com",))
        with pytest.raises(BadRequest, match=r"only to \*\.example\.com"):
            await narrow.add(receiver.url, ["job.created"], [])
        narrow.check_url("https://hooks.example.com/x")
        held = Outbox(store, clock=clock, check_url=narrow.check_url)
        await store.upsert_jobs([job(1, "Running")])
        await held.step()  # the hook was added before the hosts were narrowed
        assert receiver.received == []
        [d] = await store.deliveries(None, 10)
        assert d.state == "pending" and "only to *.example.com" in d.last_error

    scenario(store, [], body)


def test_a_disabled_hook_enabled_again_hears_from_then_on(store: Store) -> None:
    async def body(
        service: WebhookService, outbox: Outbox, receiver: Receiver, clock: Clock
    ) -> None:
        hook = await service.add(receiver.url, ["job.created"], [])
        await store.upsert_jobs([job(1, "Running")])
        await outbox.step()  # 410: disabled
        await store.upsert_jobs([job(2, "Running")])  # missed while disabled
        await outbox.step()
        again = await service.enable(hook.hook_id)
        assert again.enabled and again.disabled_reason == ""
        await store.upsert_jobs([job(3, "Running")])
        await outbox.step()
        ids = [json.loads(b)["data"]["jobSummary"]["jobId"] for _, b in receiver.received]
        assert ids == [1, 3]

    scenario(store, [(410, {})], body)


def test_what_a_hook_may_be(store: Store) -> None:
    async def body(
        service: WebhookService, outbox: Outbox, receiver: Receiver, clock: Clock
    ) -> None:
        for url, events, secret, match in [
            ("ftp://x/", ["job.failed"], "", "http:// or https://"),
            ("http:///nohost", ["job.failed"], "", "with a host"),
            (receiver.url, ["job.nosuch"], "", "unknown events job.nosuch"),
            (receiver.url, [], "", r"\(none given\)"),
            (receiver.url, ["job.failed"], "c2VjcmV0", "whsec_"),
            (receiver.url, ["job.failed"], "whsec_!!", "whsec_"),
        ]:
            with pytest.raises(BadRequest, match=match):
                await service.add(url, events, [], secret)
        hook = await service.add(receiver.url, ["job.failed"], [])
        for call, match in [
            (service.rotate(hook.hook_id, keep_old_hours=-1), "0 to"),
            (service.rotate(hook.hook_id, secret="nope"), "whsec_"),
            (service.deliveries(hook.hook_id, 0), "1 to"),
        ]:
            with pytest.raises(BadRequest, match=match):
                await call
        for missing in (
            service.get(99),
            service.remove(99),
            service.enable(99),
            service.rotate(99),
            service.set_template(99, ""),
            service.queue_test(99),
            service.deliveries(99, 10),
            service.replay(99),
            service.replay(1, hook_id=99),
        ):
            with pytest.raises(NoSuchWebhook):
                await missing
        assert [h.hook_id for h in await service.hooks()] == [hook.hook_id]
        assert (await service.get(hook.hook_id)).secret == hook.secret

    scenario(store, [], body)


def test_a_webhook_of_schema_13_is_kept_by_the_migration(
    store: Store, empty_catalogue: Catalogue
) -> None:
    async def body(
        service: WebhookService, outbox: Outbox, receiver: Receiver, clock: Clock
    ) -> None:
        hook = await service.add(receiver.url, ["job.created"], [])
        await store.close()
        await asyncio.to_thread(empty_catalogue.undo_rotation)
        again = await open_store(empty_catalogue.url)
        try:
            [kept] = await again.webhooks()
            assert kept == hook  # no template, no old secret
        finally:
            await again.close()

    scenario(store, [], body)


def test_an_endpoint_that_does_not_answer_in_time_is_tried_again(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(outboxes, "TIMEOUT_SECONDS", 0.3)

    async def body(
        service: WebhookService, outbox: Outbox, receiver: Receiver, clock: Clock
    ) -> None:
        hook = await service.add(receiver.url, ["job.created"], [])
        closed = await service.add("http://127.0.0.1:9/nobody-listens", ["job.created"], [])
        await store.upsert_jobs([job(1, "Running")])
        await outbox.step()
        [late] = await store.deliveries(hook.hook_id, 10)
        assert late.state == "pending" and late.last_error == "no answer within 0.3 s"
        assert late.next_at >= int(clock.now) + 4  # the first retry: 5 s, a tenth of jitter
        [refused] = await store.deliveries(closed.hook_id, 10)
        assert refused.state == "pending" and refused.last_error.startswith("ConnectError")
        clock.now += 6
        await outbox.step()  # answered this time
        assert [d.state for d in await store.deliveries(hook.hook_id, 10)] == ["delivered"]

    scenario(store, [(0, {})], body)


@pytest.mark.parametrize(
    ("host", "pattern", "allowed"),
    [
        ("hooks.example.com", "*.example.com", True),
        ("HOOKS.example.com".lower(), "*.example.com", True),
        ("a.b.example.com", "*.example.com", False),  # one label, not several
        ("example.com", "*.example.com", False),
        ("evil-example.com", "*.example.com", False),
        ("10.1.2.7", "10.1.2.*", True),
        ("10.1.2.example.com", "10.1.2.*", False),
        ("10.1.2.com", "10.1.2.*", False),  # a name, though its labels fit
        ("10.1.3.7", "10.1.2.*", False),
        ("127.0.0.1", "127.0.0.1", True),
        ("::1", "::1", True),
        ("hooks.example.com", "hooks.example.com", True),
    ],
)
def test_which_hosts_a_pattern_allows(host: str, pattern: str, allowed: bool) -> None:
    assert hooks.host_allowed(host, pattern) is allowed
