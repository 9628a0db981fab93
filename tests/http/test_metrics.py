"""/metrics: parsed by prometheus_client's own parser and checked against the catalogue's
numbers; scoped by the token's account; open only with --metrics-open."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families
from starlette.testclient import TestClient

from cvjobs import vocab
from cvjobs.app import create_app
from cvjobs.config import Settings
from cvjobs.model import VIEWER
from tests.catalogues import Catalogue
from tests.conftest import FakeClock
from tests.http.test_scopes import Tenant

pytestmark = pytest.mark.postgres_too

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(client: TestClient, token: str | None) -> Samples:
    headers = {"Authorization": f"Bearer {token.removeprefix('QSDK ')}"} if token else {}
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    }


def named(samples: Samples, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    return {labels: value for (n, labels), value in samples.items() if n == name}


def test_the_counts_are_the_catalogues(
    client: TestClient, token: str, catalogue: Catalogue
) -> None:
    samples = scrape(client, token)
    assert named(samples, "cvjobs_up") == {(): 1}
    assert named(samples, "cvjobs_catalogue_jobs") == {
        (): catalogue.scalar("SELECT count(*) FROM jobs")
    }
    finished = {
        (dict(labels)["client"], dict(labels)["job_type"], dict(labels)["status"]): value
        for labels, value in named(samples, "cvjobs_jobs_finished_total").items()
    }
    expected = {
        (row[0], row[1], row[2]): row[3]
        for row in catalogue.sql(
            "SELECT coalesce(c.name, ''), j.job_type, j.status, count(*) FROM jobs j"
            " LEFT JOIN clients c ON c.id = j.client_id GROUP BY 1, 2, 3"
        )
        if row[2] in vocab.FINISHED_STATUSES
    }
    assert finished == expected
    active = {dict(k)["status"]: v for k, v in named(samples, "cvjobs_active_jobs").items()}
    for status in vocab.ACTIVE_STATUSES:
        quoted = status.replace("'", "''")
        assert active[status] == catalogue.scalar(
            f"SELECT count(*) FROM jobs WHERE status = '{quoted}'"
        )
    head = client.get("/cvjobs/v1/changes?limit=1", headers={"Authtoken": token}).json()["head"]
    assert named(samples, "cvjobs_change_log_head") == {(): head}


def test_each_subclients_last_jobs_are_its_newest_of_each_selector(
    client: TestClient, token: str, catalogue: Catalogue
) -> None:
    samples = scrape(client, token)
    ends = named(samples, "cvjobs_last_job_end_timestamp_seconds")
    assert ends, "the demo's subclients have finished jobs"
    checked = 0
    for labels, value in ends.items():
        label = dict(labels)
        conditions = {
            "last": f"status IN ({', '.join(repr(s) for s in sorted(vocab.FINISHED_STATUSES))})",
            "last_successful": "status = 'Completed'",
            "last_successful_full": "status = 'Completed' AND backup_level = 1",
        }
        newest = catalogue.sql(
            f"SELECT end_time, status FROM jobs WHERE subclient_id = {label['subclient_id']}"
            f" AND {conditions[label['selector']]} ORDER BY id DESC LIMIT 1"
        )
        assert newest and newest[0][0] == value, label
        one_hot = {
            dict(k)["status"]: v
            for k, v in named(samples, "cvjobs_last_job_status").items()
            if dict(k)["subclient_id"] == label["subclient_id"]
            and dict(k)["selector"] == label["selector"]
        }
        assert one_hot[newest[0][1]] == 1 and sum(one_hot.values()) == 1
        checked += 1
    assert checked >= 3


def test_a_scoped_account_scrapes_only_its_clients(
    client: TestClient, catalogue: Catalogue
) -> None:
    tenant = Tenant(catalogue, VIEWER)
    samples = scrape(client, tenant.token)
    name = catalogue.scalar(f"SELECT name FROM clients WHERE id = {tenant.client_id}")
    clients = {
        dict(labels)["client"]
        for (metric, labels) in samples
        if metric.startswith(("cvjobs_jobs_finished", "cvjobs_last_job", "cvjobs_client_"))
    }
    assert clients == {name}
    mine = catalogue.scalar(f"SELECT count(*) FROM jobs WHERE client_id = {tenant.client_id}")
    assert named(samples, "cvjobs_catalogue_jobs") == {(): mine}


def test_metrics_need_a_token_unless_opened(client: TestClient, catalogue: Catalogue) -> None:
    assert client.get("/metrics").status_code == 401
    assert client.post("/metrics").status_code == 405


@pytest.fixture
def open_client(catalogue: Catalogue, clock: FakeClock) -> Iterator[TestClient]:
    app = create_app(Settings(db=catalogue.url, metrics_open=True), clock=clock, run_engine=False)
    with TestClient(app) as test_client:
        yield test_client


def test_open_metrics_answer_anyone_everything(
    open_client: TestClient, catalogue: Catalogue
) -> None:
    samples: Any = scrape(open_client, None)
    assert named(samples, "cvjobs_catalogue_jobs") == {
        (): catalogue.scalar("SELECT count(*) FROM jobs")
    }


def test_the_duration_histogram_is_the_finished_jobs_elapsed_times(
    client: TestClient, token: str, catalogue: Catalogue
) -> None:
    samples = scrape(client, token)
    finished = f"status IN ({', '.join(repr(s) for s in sorted(vocab.FINISHED_STATUSES))})"
    for job_type, status, count, total in catalogue.sql(
        "SELECT job_type, status, count(*), sum(elapsed_time) FROM jobs"
        f" WHERE {finished} GROUP BY 1, 2"
    ):
        labels = (("job_type", job_type), ("status", status))
        assert samples[("cvjobs_job_duration_seconds_count", labels)] == count
        assert samples[("cvjobs_job_duration_seconds_sum", labels)] == total
        for le in (*vocab.DURATION_BUCKETS, None):
            within = catalogue.scalar(
                f"SELECT count(*) FROM jobs WHERE {finished} AND job_type = ? AND status = ?"
                + ("" if le is None else f" AND elapsed_time <= {le}"),
                (job_type, status),
            )
            bucket = (*labels, ("le", "+Inf" if le is None else f"{float(le):g}"))
            assert samples[("cvjobs_job_duration_seconds_bucket", tuple(sorted(bucket)))] == within


def test_webhook_deliveries_are_counted_for_administrators_only(
    client: TestClient, token: str, catalogue: Catalogue
) -> None:
    catalogue.sql(
        "INSERT INTO webhooks (url, events, secret, enabled, cursor_seq, created_at)"
        " VALUES ('http://127.0.0.1:9/', 'job.failed', 'whsec_AAAA', 0, 0, 0)"
    )
    hook = catalogue.scalar("SELECT max(id) FROM webhooks")
    for state in ("pending", "delivered", "delivered"):
        catalogue.sql(
            "INSERT INTO webhook_deliveries (hook_id, event, body, state, next_at, created_at)"
            f" VALUES ({hook}, 'job.failed', '{{}}', '{state}', 0, 0)"
        )
    samples = scrape(client, token)
    kept = {dict(k)["state"]: v for k, v in named(samples, "cvjobs_webhook_deliveries").items()}
    assert kept == {"pending": 1, "delivered": 2, "failed": 0}
    assert named(samples, "cvjobs_webhook_enabled") == {(("webhook", str(hook)),): 0}
    tenant = Tenant(catalogue, VIEWER)
    assert not [n for n, _ in scrape(client, tenant.token) if n.startswith("cvjobs_webhook")]


def test_each_clients_rpo_and_whether_it_is_overdue(
    client: TestClient, token: str, catalogue: Catalogue, clock: FakeClock
) -> None:
    backups = ", ".join(f"'{t}'" for t in sorted(vocab.BACKUP_JOB_TYPES))
    group = int(catalogue.scalar("SELECT min(group_id) FROM client_group_members"))
    long = 20 * 8760 * 3600  # the group's clients are within it; the others' day has passed
    catalogue.sql(f"UPDATE client_groups SET rpo_seconds = {long} WHERE id = {group}")
    rows = catalogue.sql(
        "SELECT c.name,"
        f" max(CASE WHEN j.status = 'Completed' THEN j.end_time ELSE 0 END), min(j.end_time),"
        f" EXISTS (SELECT 1 FROM client_group_members m WHERE m.client_id = c.id"
        f" AND m.group_id = {group})"
        f" FROM clients c JOIN jobs j ON j.client_id = c.id AND j.job_type IN ({backups})"
        " AND j.end_time > 0 GROUP BY c.id, c.name"
    )
    expected = {}
    for name, last_ok, first_end, in_group in rows:
        rpo = long if in_group else 86_400
        overdue = (last_ok or first_end) + rpo <= int(clock())
        expected[name] = (rpo, last_ok, int(overdue))
    samples = scrape(client, token)
    shown = {
        dict(labels)["client"]: (
            value,
            named(samples, "cvjobs_client_last_successful_backup_timestamp_seconds")[labels],
            named(samples, "cvjobs_client_overdue")[labels],
        )
        for labels, value in named(samples, "cvjobs_client_rpo_seconds").items()
    }
    assert shown == expected
    assert {o for _, _, o in expected.values()} == {0, 1}
