"""The server's own request metrics in /metrics: answers by route pattern, method and
status, with a latency histogram; labels a client cannot multiply; shown only to a scrape
that sees everything; several workers' counts added up from their files."""

from __future__ import annotations

from pathlib import Path

import pytest
from starlette.testclient import TestClient

from cvjobs import vocab
from cvjobs.http.request_metrics import RequestMetrics, added
from cvjobs.model import VIEWER, RequestCounts
from tests.catalogues import Catalogue
from tests.http.test_metrics import Samples, named, scrape
from tests.http.test_scopes import Tenant

API = "/commandcenter/api/"


def series(samples: Samples, name: str) -> dict[tuple[str, str, str], float]:
    return {
        (dict(k)["route"], dict(k)["method"], dict(k)["status"]): v
        for k, v in named(samples, name).items()
        if "le" not in dict(k)
    }


def test_each_answer_is_counted_under_its_route_pattern(
    client: TestClient, token: str, auth_json: dict[str, str]
) -> None:
    for job_id in (4, 5, 6):
        assert client.get(f"{API}Job/{job_id}", headers=auth_json).status_code == 200
    assert client.get(f"{API}Job/abc", headers=auth_json).status_code == 400
    assert client.get(f"{API}NoSuchThing/{token}", headers=auth_json).status_code == 404
    assert client.request("BREW", f"{API}Job/4", headers=auth_json).status_code == 405
    assert client.get("/cvjobs/v1/changes?limit=1", headers=auth_json).status_code == 200
    assert client.get(API, headers=auth_json).status_code == 200
    scrape(client, token)  # counted once answered: the next scrape shows it
    samples = scrape(client, token)
    counted = series(samples, "cvjobs_http_requests_total")
    assert counted == {
        ("Job/{job_id}", "GET", "200"): 3,
        ("Job/{job_id}", "GET", "400"): 1,
        ("other", "GET", "404"): 1,  # an unknown path is no label of its own
        ("other", "other", "405"): 1,  # nor an unknown method
        ("cvjobs/v1/changes", "GET", "200"): 1,
        ("root", "GET", "200"): 1,
        ("metrics", "GET", "200"): 1,
    }
    assert series(samples, "cvjobs_http_request_duration_seconds_count") == counted
    buckets = {
        float(dict(k)["le"]): v
        for k, v in named(samples, "cvjobs_http_request_duration_seconds_bucket").items()
        if dict(k)["route"] == "Job/{job_id}" and dict(k)["status"] == "200"
    }
    assert len(buckets) == len(vocab.REQUEST_BUCKETS) + 1 and buckets[float("inf")] == 3
    values = [buckets[b] for b in sorted(buckets)]
    assert values == sorted(values)  # cumulative
    seconds = series(samples, "cvjobs_http_request_duration_seconds_sum")
    assert 0 < seconds[("Job/{job_id}", "GET", "200")] < 30


def test_a_scoped_scrape_shows_no_request_metrics(
    client: TestClient, catalogue: Catalogue, auth_json: dict[str, str]
) -> None:
    client.get(f"{API}Job/4", headers=auth_json)
    samples = scrape(client, Tenant(catalogue, VIEWER).token)
    assert not [name for name, _ in samples if name.startswith("cvjobs_http_")]


def test_several_workers_counts_are_added_from_their_files(tmp_path: Path) -> None:
    scope = {"method": "GET", "state": {"route": "Job/{job_id}"}}
    first = RequestMetrics(str(tmp_path), worker="1")
    second = RequestMetrics(str(tmp_path), worker="2")
    for seconds in (0.0001, 0.003, 20.0):
        first.observe(scope, 200, seconds)
    second.observe(scope, 200, 0.003)
    second.observe({**scope, "method": "POST"}, 500, 0.5)
    assert first.others() == []  # nothing saved yet
    first.save(first.own())
    second.save(second.own())
    assert (tmp_path / "1.json").exists() and not list(tmp_path.glob("*.part"))
    total = added([*first.own(), *first.others()])
    assert [(c.route, c.method, c.status, sum(c.buckets)) for c in total] == [
        ("Job/{job_id}", "GET", 200, 4),
        ("Job/{job_id}", "POST", 500, 1),
    ]
    got = total[0]
    assert got.seconds == pytest.approx(20.0061)
    assert got.buckets[0] == 1 and got.buckets[-1] == 1  # 0.1 ms; 20 s, past every bound
    (tmp_path / "3.json").write_text("not json")  # a broken file costs nothing
    assert len(added([*second.own(), *second.others()])) == 2
    # A file of other buckets is left out, not added wrongly.
    odd = [RequestCounts("Job/{job_id}", "GET", 200, 1.0, (1, 1))]
    assert added([*first.own(), *odd]) == added(first.own())
