"""job.overdue: clients with no successful backup within their RPO (the smallest of their
groups', else the default) are told to the webhooks that want it, once a spell, with
their last successful backup; on both backends, to a real receiver on loopback."""

from __future__ import annotations

import json
from typing import Any

import pytest
from standardwebhooks import Webhook as Verifier

from cvjobs.errors import BadRequest
from cvjobs.model import Job, JobRecord, Ref
from cvjobs.outbox import Outbox
from cvjobs.service.rpo import RpoService
from cvjobs.service.webhooks import WebhookService
from cvjobs.store.protocols import Store
from tests import test_outbox
from tests.store.loop import event_loop_per_test  # noqa: F401 - autouse: the loop
from tests.test_outbox import Clock, Receiver, scenario

pytestmark = pytest.mark.postgres_too

store = test_outbox.store  # the fixture: an empty catalogue's store
HOUR = 3600
PROD = Ref(70, "Production")


def backup(
    job_id: int, client: int, status: str, end: int, groups: tuple[Ref, ...] = ()
) -> JobRecord:
    return JobRecord(
        Job(
            job_id=job_id,
            status=status,
            job_type="Backup",
            client=Ref(client, f"c{client}"),
            client_groups=groups,
            start_time=end - 600 if end else 1000,
            end_time=end,
        )
    )


def told(receiver: Receiver) -> list[tuple[int, Any]]:
    return [
        (json.loads(b)["data"]["client"]["clientId"], json.loads(b)["data"])
        for _, b in receiver.received
    ]


def test_a_client_past_its_rpo_is_told_once_until_it_backs_up_again(store: Store) -> None:
    async def body(
        service: WebhookService, outbox: Outbox, receiver: Receiver, clock: Clock
    ) -> None:
        t0 = int(clock.now) - 30 * HOUR
        hook = await service.add(receiver.url, ["job.overdue"], [])
        await store.upsert_jobs(
            [
                backup(1, 2, "Completed", t0),  # client 2: a success, then a failure
                backup(2, 2, "Failed", t0 + 5 * HOUR),
                backup(3, 3, "Failed", t0 + 20 * HOUR),  # client 3: never a success
                backup(4, 4, "Running", 0),  # client 4: nothing finished, not watched
                backup(5, 5, "Completed", t0 + 29 * HOUR),  # client 5: fine
            ]
        )
        rpo = RpoService(store, default_hours=24)
        now = int(clock.now)
        await outbox.check_overdue(rpo, now)
        await outbox.step()
        [(client, data)] = told(receiver)
        assert client == 2 and data["rpoSeconds"] == 24 * HOUR
        assert data["overdueSince"] == t0 + 24 * HOUR
        assert data["lastSuccessfulJob"]["jobId"] == 1
        headers, sent = receiver.received[0]
        assert Verifier(hook.secret).verify(sent, headers)["type"] == "job.overdue"
        await outbox.check_overdue(rpo, now + 60)  # still overdue: told already
        await outbox.step()
        assert len(receiver.received) == 1
        # Client 3 (first finished backup at t0 + 20 h) crosses its RPO later.
        await outbox.check_overdue(rpo, t0 + 44 * HOUR)
        await outbox.step()
        assert told(receiver)[1][0] == 3 and told(receiver)[1][1]["lastSuccessfulJob"] is None
        # Client 2 backs up: forgotten; overdue again a day later: told again.
        await store.upsert_jobs([backup(6, 2, "Completed", t0 + 44 * HOUR)])
        await outbox.check_overdue(rpo, t0 + 45 * HOUR)
        assert await store.overdue_told() == {(hook.hook_id, 3)}
        await outbox.check_overdue(rpo, t0 + 69 * HOUR)
        await outbox.step()
        assert [c for c, _ in told(receiver)] == [2, 3, 2, 5]
        assert told(receiver)[2][1]["lastSuccessfulJob"]["jobId"] == 6

    scenario(store, [], body)


def test_a_group_rpo_and_a_hook_of_some_clients(store: Store) -> None:
    async def body(
        service: WebhookService, outbox: Outbox, receiver: Receiver, clock: Clock
    ) -> None:
        now = int(clock.now)
        hook = await service.add(receiver.url, ["job.overdue"], [3])  # only client 3
        await service.add(receiver.url, ["job.failed"], [])  # not this event
        await store.upsert_jobs(
            [
                backup(1, 2, "Completed", now - 2 * HOUR, groups=(PROD,)),
                backup(2, 3, "Completed", now - 2 * HOUR, groups=(PROD,)),
                backup(3, 4, "Completed", now - 2 * HOUR),
            ]
        )
        rpo = RpoService(store, default_hours=24)
        assert await rpo.set_group("production", 1) == (70, "Production")
        await outbox.check_overdue(rpo, now)
        await outbox.step()
        assert [(c, d["rpoSeconds"]) for c, d in told(receiver)] == [(3, HOUR)]
        assert await store.overdue_told() == {(hook.hook_id, 3)}  # 2 is overdue, not its
        assert await rpo.set_group("70", 0) == (70, "Production")  # the default again
        await outbox.check_overdue(rpo, now)
        assert await store.overdue_told() == set()
        for group, hours, why in [("nosuch", 1, "no client group"), ("70", -1, "1 to 8760")]:
            with pytest.raises(BadRequest, match=why):
                await rpo.set_group(group, hours)
        assert [(g, s) for g, _, s in await rpo.groups()] == [(70, 0)]

    scenario(store, [], body)


def test_a_hook_added_while_a_client_is_overdue_hears_of_it(store: Store) -> None:
    async def body(
        service: WebhookService, outbox: Outbox, receiver: Receiver, clock: Clock
    ) -> None:
        now = int(clock.now)
        await store.upsert_jobs([backup(1, 2, "Completed", now - 30 * HOUR)])
        rpo = RpoService(store, default_hours=24)
        first = await service.add(receiver.url, ["job.overdue"], [])
        await outbox.check_overdue(rpo, now)
        second = await service.add(receiver.url, ["job.overdue"], [])
        await outbox.check_overdue(rpo, now + 60)
        await outbox.step()
        assert [c for c, _ in told(receiver)] == [2, 2]  # the first told once, then the second
        assert await store.overdue_told() == {(first.hook_id, 2), (second.hook_id, 2)}
        await service.remove(second.hook_id)
        assert await store.overdue_told() == {(first.hook_id, 2)}

    scenario(store, [], body)
