"""WHERE clauses of the list reads, built the one way: `Where` collects conditions with
their parameters, in order, and spells them with `?` placeholders. The job list, the event
list and the audit log each turn their query object into one; scopes add a condition on a
client id column."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from typing import Any

from cvjobs import vocab
from cvjobs.model import AuditQuery, EventQuery, JobQuery, Scope


def literals(values: Iterable[str]) -> str:
    """SQL string literals of `values`, sorted and comma-separated, for an IN list."""
    return ", ".join("'" + v.replace("'", "''") + "'" for v in sorted(values))


# The active statuses spelled out as literals, not parameters: the partial index
# jobs_active (schema v3) applies only to a query that repeats its condition, and with it
# the planner knows the active jobs are few (a parameterised IN looked like half the table
# to SQLite, which then scanned a million rows).
ACTIVE_LITERALS = literals(vocab.ACTIVE_STATUSES)
SUCCESSFUL_LITERALS = literals(vocab.SUCCESSFUL_STATUSES)
IS_ACTIVE = f"j.status IN ({ACTIVE_LITERALS})"

# GET Job's sort fields as the columns of `jobs j` (and `clients c`, joined to sort by name).
SORT_COLUMNS = {
    "jobId": "j.id",
    "jobStartTime": "j.start_time",
    "jobEndTime": "j.end_time",
    "lastUpdateTime": "j.last_update_time",
    "status": "j.status",
    "clientName": "c.name",
}

# An event's client is its job's, as the job is now (a job moved to another client takes
# its events along, for scopes too), or its own when it has no job (or the job is gone).
CURRENT_CLIENT = "coalesce(j.client_id, e.client_id)"


def in_list(column: str, values: Collection[Any]) -> str:
    return f"{column} IN ({', '.join('?' * len(values))})"


class Where:
    """Conditions joined by AND, with their parameters in placeholder order."""

    def __init__(self) -> None:
        self.terms: list[str] = []
        self.params: list[Any] = []

    def add(self, condition: str, params: Collection[Any] = ()) -> None:
        self.terms.append(condition)
        self.params.extend(params)

    def equal(self, column: str, value: Any) -> None:
        """`column = value`, unless value is None."""
        if value is not None:
            self.add(f"{column} = ?", (value,))

    def among(self, column: str, values: Collection[Any] | None) -> None:
        """`column IN values` (nothing matches an empty set), unless values is None."""
        if values is not None:
            self.add(in_list(column, values) if values else "1 = 0", sorted(values))

    def scoped(self, column: str, scope: Scope) -> None:
        """Keep the rows of a client id `column` that `scope` allows (all, for everything)."""
        if not scope.everything:
            self.add(*scope_filter(column, scope))

    @property
    def sql(self) -> str:
        """` WHERE ...`, or "" when there is no condition."""
        return " WHERE " + " AND ".join(self.terms) if self.terms else ""


def scope_filter(column: str, scope: Scope) -> tuple[str, list[Any]]:
    """The condition on a client id column that keeps the rows `scope` allows: the
    clients it lists and the members of the client groups it lists."""
    parts = Where()
    if scope.clients:
        parts.among(column, scope.clients)
    if scope.groups:
        members = "SELECT client_id FROM client_group_members WHERE " + in_list(
            "group_id", scope.groups
        )
        parts.add(f"{column} IN ({members})", sorted(scope.groups))
    return ("(" + " OR ".join(parts.terms) + ")" if parts.terms else "1 = 0"), parts.params


def counted_terms(q: JobQuery, table: str) -> Where:
    """The conditions of a job list on the columns the kept counts have too (see
    store/counts.py), on `table` (`j`, the jobs, or `k`, a counts table): type, status,
    client, aged, scope."""
    where = Where()
    where.among(f"{table}.job_type", q.job_types)
    where.among(f"{table}.status", q.statuses)
    where.among(f"{table}.client_id", q.client_ids)
    if q.anomalous_only:
        where.add("1 = 0")  # no job is flagged anomalous here
    if not q.show_aged:
        where.add(f"{table}.is_aged = 0")
    where.scoped(f"{table}.client_id", q.scope)
    return where


def job_filter(q: JobQuery) -> Where:
    """The conditions of a job list on `jobs j`, on indexed columns only."""
    where = counted_terms(q, "j")
    where.equal("j.subclient_id", q.subclient_id)
    where.equal("j.backupset_id", q.backupset_id)
    where.equal("j.instance_id", q.instance_id)
    where.equal("j.app_id", q.app_id)
    where.among("j.backup_level", q.backup_levels)
    if q.category == "active":
        where.add(IS_ACTIVE)
    else:
        recent = "j.end_time >= ?" if q.lookup_seconds is not None else "1 = 1"
        since = [q.now - q.lookup_seconds] if q.lookup_seconds is not None else []
        if q.category == "finished":
            where.add(f"NOT {IS_ACTIVE} AND {recent}", since)
        elif q.lookup_seconds is not None:
            where.add(f"({IS_ACTIVE} OR {recent})", since)
    return where


def event_filter(q: EventQuery) -> Where:
    """The conditions of an event list on `events e` joined to its job `j`."""
    where = Where()
    where.equal("e.id", q.event_id)
    where.equal("e.job_id", q.job_id)
    if q.from_time is not None:
        where.add("e.time >= ?", (q.from_time,))
    if q.to_time is not None:
        where.add("e.time <= ?", (q.to_time,))
    where.among("e.severity", q.severities)
    client_id = q.client_id
    if client_id is not None:
        where.add(*_of_current_client(lambda column: (f"{column} = ?", [client_id])))
    if not q.scope.everything:
        scope = q.scope
        where.add(*_of_current_client(lambda column: scope_filter(column, scope)))
    return where


def _of_current_client(condition: Callable[[str], tuple[str, list[Any]]]) -> tuple[str, list[Any]]:
    """`condition` on an event's current client. The first two terms let the indexes on
    events.client_id and events.job_id find the candidates; the last one decides."""
    stored, first = condition("e.client_id")
    by_job, second = condition("jc.client_id")
    current, third = condition(CURRENT_CLIENT)
    return (
        f"(({stored}) OR e.job_id IN (SELECT jc.id FROM jobs jc WHERE {by_job})) AND ({current})",
        [*first, *second, *third],
    )


def audit_filter(q: AuditQuery) -> Where:
    """The conditions of an audit log read (an empty user or action, job 0: any)."""
    where = Where()
    where.equal("lower(user_name)", q.user.lower() if q.user else None)
    where.equal("action", q.action or None)
    where.equal("job_id", q.job_id or None)
    where.add("time >= ?", (q.since,))
    return where
