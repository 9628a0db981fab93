"""The WHERE builders, without a database: conditions and parameters stay in step."""

from __future__ import annotations

from cvjobs.model import AuditQuery, EventQuery, JobQuery, Scope
from cvjobs.store.filters import IS_ACTIVE, Where, audit_filter, event_filter, job_filter


def test_where_keeps_each_condition_with_its_parameters() -> None:
    where = Where()
    assert where.sql == ""
    where.equal("a", None)  # None: no condition
    where.among("b", None)
    assert where.sql == ""
    where.equal("a", 1)
    where.among("b", frozenset({3, 2}))
    where.among("c", frozenset())  # an empty set matches nothing
    assert where.sql == " WHERE a = ? AND b IN (?, ?) AND 1 = 0"
    assert where.params == [1, 2, 3]


def test_a_job_filter_has_a_placeholder_per_parameter() -> None:
    scope = Scope(everything=False, clients=frozenset({4}), groups=frozenset({8}))
    q = JobQuery(
        now=1000,
        job_types=frozenset({"Backup"}),
        statuses=frozenset({"Failed", "Killed"}),
        client_ids=(4, 5),
        subclient_id=6,
        category="finished",
        lookup_seconds=100,
        show_aged=False,
        scope=scope,
    )
    where = job_filter(q)
    assert where.sql.count("?") == len(where.params)
    assert where.params == ["Backup", "Failed", "Killed", 4, 5, 4, 8, 6, 900]
    assert f"NOT {IS_ACTIVE} AND j.end_time >= ?" in where.sql
    assert "j.is_aged = 0" in where.sql


def test_an_empty_scope_sees_nothing_and_everything_adds_nothing() -> None:
    assert "1 = 0" in job_filter(JobQuery(now=0, scope=Scope(everything=False))).sql
    assert job_filter(JobQuery(now=0)).sql == ""


def test_event_and_audit_filters_keep_placeholders_and_parameters_in_step() -> None:
    scope = Scope(everything=False, clients=frozenset({4}))
    events = event_filter(EventQuery(job_id=3, client_id=4, from_time=10, scope=scope))
    assert events.sql.count("?") == len(events.params)
    assert events.params[:2] == [3, 10]
    audit = audit_filter(AuditQuery(since=5, user="Alice", job_id=0))
    assert audit.sql == " WHERE lower(user_name) = ? AND time >= ?"
    assert audit.params == ["alice", 5]
