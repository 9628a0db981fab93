"""Job list requests read into a JobQuery, without a server: GET Job's parameters and
paging headers, POST Jobs' body."""

from __future__ import annotations

from typing import Any

import pytest

from cvjobs import vocab
from cvjobs.errors import BadRequest
from cvjobs.http.queries import (
    DEFAULT_LOOKUP_SECONDS,
    MAX_KEPT_INPUT,
    from_get,
    from_post,
    from_query_string,
    paging,
)
from cvjobs.model import JobQuery, Scope

NOW = 1_764_000_000


def get(params: dict[str, list[str]], headers: dict[str, str] | None = None) -> JobQuery:
    return from_get({k.lower(): v for k, v in params.items()}, headers or {}, NOW)


def test_get_defaults() -> None:
    q = get({})
    assert (q.limit, q.offset, q.category) == (100, 0, "all")
    assert q.job_types == vocab.DEFAULT_LIST_TYPES
    assert q.lookup_seconds == DEFAULT_LOOKUP_SECONDS == 365 * 86400
    assert q.client_ids is None and q.statuses is None


@pytest.mark.parametrize(
    ("header_limit", "query_limit", "header_offset", "query_offset", "expected"),
    [
        (None, None, None, None, (100, 0)),
        (None, 20, None, 5, (20, 5)),
        (30, None, 10, None, (30, 10)),
        (30, 100, 10, 99, (30, 10)),  # the PowerShell SDK: headers page, the query caps
        (300, 100, None, None, (100, 0)),
        (0, 100, None, None, (100, 0)),  # header 0 beside a query limit: no paging of its own
        (0, None, None, None, (0, 0)),  # alone, 0 asks for the total only
    ],
)
def test_paging_headers_and_parameters(
    header_limit: int | None,
    query_limit: int | None,
    header_offset: int | None,
    query_offset: int | None,
    expected: tuple[int, int],
) -> None:
    assert paging(header_limit, query_limit, header_offset, query_offset) == expected


def test_get_reads_the_filters_clients_send() -> None:
    q = get(
        {
            "clientId": ["7"],
            "jobCategory": ["Finished"],
            "jobFilter": ["Backup,Restore"],
            "completedJobLookupTime": ["3600"],
        },
        {"limit": "10", "offset": "20"},
    )
    assert q.client_ids == (7,)
    assert q.category == "finished"
    assert q.job_types == frozenset({"Backup", "Restore"})
    assert (q.lookup_seconds, q.limit, q.offset) == (3600, 10, 20)


@pytest.mark.parametrize(
    ("params", "headers", "named"),
    [
        ({"limit": ["1", "2"]}, {}, "limit is given 2 times"),
        ({"limit": ["10001"]}, {}, "limit"),
        ({}, {"offset": "-1"}, "offset"),
        ({"jobCategory": ["Sometimes"]}, {}, "jobCategory must be"),
        ({"jobFilter": ["Teleport"]}, {}, "unknown job type 'Teleport'"),
        ({"clientId": ["0"]}, {}, "clientId"),
        ({"hideAdminJobs": ["maybe"]}, {}, "hideAdminJobs"),
    ],
)
def test_get_refuses_what_it_cannot_read_naming_it(
    params: dict[str, list[str]], headers: dict[str, str], named: str
) -> None:
    with pytest.raises(BadRequest, match=named):
        get(params, headers)


def test_post_reads_cvpysdks_finished_jobs_body() -> None:
    body: dict[str, Any] = {
        "category": 2,
        "pagingConfig": {"sortDirection": 1, "offset": 0, "sortField": "jobStartTime", "limit": 5},
        "jobFilter": {
            "completedJobLookupTime": 86400,
            "showAgedJobs": False,
            "clientList": [{"clientId": 3}],
            "jobTypeList": [4],
            "statusList": ["Completed"],
        },
    }
    q = from_post(body, NOW)
    assert (q.category, q.sort_field, q.descending) == ("finished", "jobStartTime", True)
    assert q.limit == 5
    assert q.client_ids == (3,)
    assert q.job_types == frozenset({vocab.job_type_named("4")})
    assert q.statuses == frozenset({"Completed"})
    assert (q.lookup_seconds, q.show_aged) == (86400, False)


def test_an_entity_client_outside_the_client_list_matches_nothing() -> None:
    body = {"jobFilter": {"clientList": [{"clientId": 3}], "entity": {"clientId": 4}}}
    assert from_post(body, NOW).client_ids == ()


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"category": 7}, "category must be 0"),
        ({"pagingConfig": {"sortField": "colour"}}, "unknown sortField"),
        ({"pagingConfig": {"sortDirection": 2}}, "sortDirection"),
        ({"jobFilter": {"clientList": [3]}}, "clientList entries"),
        ({"jobFilter": {"wobble": 1}}, "unknown jobFilter key 'wobble'"),
        ({"jobFilter": {"statusList": ["Exploded"]}}, "unknown status 'Exploded'"),
        ({"jobFilter": {"backupLevel": ["Sideways"]}}, "unknown backup level"),
        ({"pagingConfig": {"limit": 10_001}}, "pagingConfig.limit"),
    ],
)
def test_post_refuses_what_it_cannot_read_naming_it(body: dict[str, Any], named: str) -> None:
    with pytest.raises(BadRequest, match=named):
        from_post(body, NOW)


def test_the_asking_accounts_scope_goes_into_the_query() -> None:
    scope = Scope(everything=False, clients=frozenset({3}))
    assert from_get({}, {}, NOW, scope).scope == scope
    assert from_post({}, NOW, scope).scope == scope
    assert from_get({}, {}, NOW).scope.everything  # a caller that names none: everything


def test_a_raw_query_string_reads_as_its_parameters_would() -> None:
    raw = b"clientId=9&JOBCATEGORY=Finished&jobFilter=Backup%2CRestore&limit=20"
    assert from_query_string(raw, "5", "40", NOW, Scope()) == from_get(
        {"clientid": ["9"], "jobcategory": ["Finished"], "jobfilter": ["Backup,Restore"],
         "limit": ["20"]},
        {"limit": "5", "offset": "40"},
        NOW,
    )  # fmt: skip


def test_a_query_read_again_is_remembered_by_all_it_was_read_from() -> None:
    raw = b"clientId=9&jobCategory=Finished"
    scoped = Scope(everything=False, clients=frozenset({9}))
    first = from_query_string(raw, None, None, NOW, scoped)
    assert from_query_string(raw, None, None, NOW, scoped) is first
    # another second, scope, raw string or paging header is read on its own
    assert from_query_string(raw, None, None, NOW + 1, scoped).now == NOW + 1
    assert from_query_string(raw, None, None, NOW, Scope()).scope.everything
    assert from_query_string(raw + b"&limit=7", None, None, NOW, scoped).limit == 7
    assert from_query_string(raw, "3", None, NOW, scoped).limit == 3


def test_a_refused_query_is_refused_every_time_and_a_big_one_is_not_kept() -> None:
    for _ in range(2):
        with pytest.raises(BadRequest, match="jobCategory"):
            from_query_string(b"jobCategory=Sometimes", None, None, NOW, Scope())
    padded = b"clientId=9" + b"&" * MAX_KEPT_INPUT  # empty pairs: read as none
    first = from_query_string(padded, None, None, NOW, Scope())
    assert first.client_ids == (9,)
    assert from_query_string(padded, None, None, NOW, Scope()) is not first
