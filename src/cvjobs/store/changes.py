"""The change log (schema v11): one record per change of a job, appended by triggers on the
jobs table in the same transaction as the write, whoever writes (ingest, import, the
engine, job actions, aging), with a sequence number that only grows.

A record says which job, its client (for scopes), what kind of change (`vocab.CHANGE_KINDS`),
the status before and after, and when. A reader asks for the records after the last
sequence number it has seen; the sequence order must then be the order in which the records
became visible, or a reader that has moved past a number would never see a smaller one
committed later:

- SQLite has one writer at a time, so the number a record takes in its transaction
  (AUTOINCREMENT, never reused) is already in commit order.
- PostgreSQL's writers run side by side, so a record is written without a number, and is
  numbered only once committed: `cvjobs_sequence_changes()` numbers the committed records
  not yet numbered, in one transaction that one caller at a time runs (the others wait
  for it: a short UPDATE). Readers call it before they read, and the server every
  second, so a record is numbered within a second of its commit.

Records older than the retention are pruned (`prune`); `job_change_state` remembers the
highest sequence number pruned, so a reader whose cursor is older learns that it missed
records (HTTP 410) instead of silently skipping them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from cvjobs.model import Change, ChangePage, Scope
from cvjobs.store.driver import Connection, Database
from cvjobs.store.filters import ACTIVE_LITERALS, Where
from cvjobs.store.rows import COLUMN_NAMES

TABLE = "job_changes"
_COLUMNS = "job_id, client_id, kind, old_status, new_status, time"
_LOCK = 7_227_003  # PostgreSQL: the one numbering at a time
NUMBERED_AT_ONCE = 10_000


def _kind(old: str, new: str) -> str:
    """The kind of an update of jobs row `old` to `new` (SQL; status is never NULL)."""
    return (
        f"CASE WHEN {old}.status = {new}.status THEN 'progress'"
        f" WHEN {new}.status IN ({ACTIVE_LITERALS}) THEN 'status' ELSE 'finished' END"
    )


def _changed(old: str, new: str, differs: str) -> str:
    """Whether an update changed any column of the job (SQL; `differs` is the dialect's
    NULL-safe inequality)."""
    return " OR ".join(f"{old}.{c} {differs} {new}.{c}" for c in COLUMN_NAMES[1:])


def _sqlite(now: str) -> str:
    def trigger(name: str, event: str, values: str, when: str = "") -> str:
        return (
            f"CREATE TRIGGER {name} AFTER {event} ON jobs{when}\nBEGIN\n"
            f"INSERT INTO {TABLE} ({_COLUMNS}) VALUES ({values});\nEND;\n"
        )

    return (
        f"CREATE TABLE {TABLE} (\n"
        "    seq        INTEGER PRIMARY KEY AUTOINCREMENT,\n"
        "    job_id     INTEGER NOT NULL,\n"
        "    client_id  INTEGER,\n"
        "    kind       TEXT NOT NULL,\n"
        "    old_status TEXT,\n"
        "    new_status TEXT,\n"
        "    time       INTEGER NOT NULL\n"
        ");\n"
        + trigger(
            "jobs_logged_in", "INSERT", f"NEW.id, NEW.client_id, 'created', NULL, NEW.status, {now}"
        )
        + trigger(
            "jobs_logged_out",
            "DELETE",
            f"OLD.id, OLD.client_id, 'deleted', OLD.status, NULL, {now}",
        )
        + trigger(
            "jobs_logged_changed",
            "UPDATE",
            f"NEW.id, NEW.client_id, {_kind('OLD', 'NEW')}, OLD.status, NEW.status, {now}",
            f" WHEN {_changed('OLD', 'NEW', 'IS NOT')}",
        )
    )


def _postgres(now: str) -> str:
    return (
        f"CREATE TABLE {TABLE} (\n"
        "    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,\n"
        "    seq        BIGINT UNIQUE,\n"
        "    job_id     BIGINT NOT NULL,\n"
        "    client_id  BIGINT,\n"
        "    kind       TEXT NOT NULL,\n"
        "    old_status TEXT,\n"
        "    new_status TEXT,\n"
        "    time       BIGINT NOT NULL\n"
        ");\n"
        f"CREATE INDEX job_changes_unnumbered ON {TABLE} (id) WHERE seq IS NULL;\n"
        "CREATE FUNCTION cvjobs_log_jobs() RETURNS trigger LANGUAGE plpgsql AS $$\n"
        "BEGIN\n"
        "    IF TG_OP = 'INSERT' THEN\n"
        f"        INSERT INTO {TABLE} ({_COLUMNS}) SELECT id, client_id, 'created', NULL,"
        f" status, {now} FROM new_rows ORDER BY id;\n"
        "    ELSIF TG_OP = 'DELETE' THEN\n"
        f"        INSERT INTO {TABLE} ({_COLUMNS}) SELECT id, client_id, 'deleted', status,"
        f" NULL, {now} FROM old_rows ORDER BY id;\n"
        "    ELSE\n"
        f"        INSERT INTO {TABLE} ({_COLUMNS}) SELECT n.id, n.client_id, {_kind('o', 'n')},"
        f" o.status, n.status, {now} FROM new_rows n JOIN old_rows o ON o.id = n.id"
        f" WHERE {_changed('o', 'n', 'IS DISTINCT FROM')} ORDER BY n.id;\n"
        "    END IF;\n"
        "    RETURN NULL;\n"
        "END\n$$;\n"
        + "".join(
            f"CREATE TRIGGER jobs_logged_{op.lower()} AFTER {op} ON jobs REFERENCING {tables}"
            " FOR EACH STATEMENT EXECUTE FUNCTION cvjobs_log_jobs();\n"
            for op, tables in (
                ("INSERT", "NEW TABLE AS new_rows"),
                ("DELETE", "OLD TABLE AS old_rows"),
                ("UPDATE", "OLD TABLE AS old_rows NEW TABLE AS new_rows"),
            )
        )
        + "CREATE FUNCTION cvjobs_sequence_changes() RETURNS bigint LANGUAGE plpgsql AS $$\n"
        "DECLARE\n    base bigint;\n    numbered bigint;\n"
        "BEGIN\n"
        # One numbering at a time per catalogue (a schema of its own is one).
        f"    PERFORM pg_advisory_xact_lock({_LOCK}, hashtext(current_schema()));\n"
        "    SELECT head INTO base FROM job_change_state;\n"
        f"    UPDATE {TABLE} c SET seq = base + p.k FROM (SELECT id, row_number() OVER"
        f" (ORDER BY id) AS k FROM {TABLE} WHERE seq IS NULL ORDER BY id"
        f" LIMIT {NUMBERED_AT_ONCE}) p WHERE c.id = p.id;\n"
        "    GET DIAGNOSTICS numbered = ROW_COUNT;\n"
        # Nothing written when nothing was numbered: a write would move the catalogue's
        # version (pg_current_snapshot) every second, and every kept answer with it.
        "    IF numbered > 0 THEN\n"
        "        UPDATE job_change_state SET head = base + numbered;\n"
        "    END IF;\n"
        "    RETURN numbered;\n"
        "END\n$$;\n"
    )


def migration(dialect: str) -> str:
    """Schema v11 in the dialect's spelling ("sqlite" or "postgresql"). The log starts
    empty: the jobs already there are not logged."""
    state = (
        "CREATE TABLE job_change_state (\n"
        "    id             INTEGER PRIMARY KEY CHECK (id = 1),\n"
        "    head           BIGINT NOT NULL,\n"
        "    pruned_through BIGINT NOT NULL\n"
        ");\n"
        "INSERT INTO job_change_state (id, head, pruned_through) VALUES (1, 0, 0);\n"
    )
    common = (
        f"CREATE INDEX job_changes_client ON {TABLE} (client_id, seq);\n"
        f"CREATE INDEX job_changes_time ON {TABLE} (time);\n"
    )
    if dialect == "sqlite":
        return state + _sqlite(NOW[dialect]) + common
    return state + _postgres(NOW[dialect]) + common


# Now in UNIX seconds, in each dialect's spelling (PostgreSQL's: the transaction's start).
NOW = {
    "sqlite": "CAST(strftime('%s', 'now') AS INTEGER)",
    "postgresql": "extract(epoch FROM now())::bigint",
}


def log_all(dialect: str) -> list[str]:
    """A bulk load that left the triggers out logs the jobs it created at its end (it
    loads only into an empty catalogue, so every job there is new). On PostgreSQL the
    records are numbered as they are written, under the numbering's lock, which the
    load's transaction then holds until it commits: the head moves with the records, so
    no reader passes them, and a million records are not each written twice (numbered
    by an UPDATE later, leaving a million dead rows that every numbering walked until a
    vacuum: 40-70 ms each time)."""
    if dialect == "sqlite":
        return [
            f"INSERT INTO {TABLE} ({_COLUMNS}) SELECT id, client_id, 'created', NULL, status,"
            f" {NOW[dialect]} FROM jobs ORDER BY id"
        ]
    return [
        f"SELECT pg_advisory_xact_lock({_LOCK}, hashtext(current_schema()))",
        f"INSERT INTO {TABLE} (seq, {_COLUMNS}) SELECT"
        " (SELECT head FROM job_change_state) + row_number() OVER (ORDER BY id), id,"
        f" client_id, 'created', NULL, status, {NOW[dialect]} FROM jobs ORDER BY id",
        "UPDATE job_change_state SET head = head + (SELECT count(*) FROM jobs)",
    ]


def _change(r: Sequence[Any]) -> Change:
    return Change(
        seq=r[0],
        job_id=r[1],
        client_id=r[2] or 0,
        kind=r[3],
        old_status=r[4] or "",
        new_status=r[5] or "",
        time=r[6],
    )


class ChangeTables:
    """The change log's reads and housekeeping, a mixin of `SqlStore`."""

    _db: Database

    async def sequence_changes(self) -> None:
        """Number the committed records not numbered yet (PostgreSQL; SQLite numbers
        them as they are written)."""
        if self._db.dialect.name == "postgresql":
            async with self._db.reading() as conn:
                while await conn.fetchone("SELECT cvjobs_sequence_changes()") == (
                    NUMBERED_AT_ONCE,
                ):
                    pass

    async def changes_after(self, after: int, limit: int, scope: Scope) -> ChangePage:
        """The records after sequence number `after` that `scope` sees, oldest first, at
        most `limit`; with the head then (the last number given) and the highest number
        pruned. The head is read first, and records only up to it."""
        await self.sequence_changes()
        where = Where()
        where.add("seq > ?", [after])
        where.scoped("client_id", scope)
        await self._db.committed()  # a number not committed may yet be given again
        async with self._db.reading() as conn:
            head, pruned = await self._state(conn)
            where.add("seq <= ?", [head])
            rows = await conn.fetchall(
                f"SELECT seq, {_COLUMNS} FROM {TABLE}{where.sql} ORDER BY seq LIMIT ?",
                [*where.params, limit],
            )
        return ChangePage(head=head, pruned_through=pruned, changes=[_change(r) for r in rows])

    async def change_head(self) -> int:
        await self.sequence_changes()
        await self._db.committed()
        async with self._db.reading() as conn:
            return (await self._state(conn))[0]

    async def _state(self, conn: Connection) -> tuple[int, int]:
        row = await conn.fetchone(self._db.dialect.change_state)
        assert row is not None, "schema v11 makes the row"
        return int(row[0]), int(row[1])

    async def prune_changes(self, before: int) -> int:
        """Delete the records older than `before` (UNIX seconds), numbered ones only,
        remembering the highest number deleted. Returns how many went."""
        await self.sequence_changes()
        async with self._db.transaction() as conn:
            row = await conn.fetchone(
                f"SELECT max(seq) FROM {TABLE} WHERE time < ? AND seq IS NOT NULL", [before]
            )
            if row is None or row[0] is None:
                return 0
            through = int(row[0])
            gone = await conn.execute(f"DELETE FROM {TABLE} WHERE seq <= ?", [through])
            await conn.execute(
                "UPDATE job_change_state SET pruned_through ="
                f" {self._db.dialect.greatest}(pruned_through, ?)",
                [through],
            )
            return gone
