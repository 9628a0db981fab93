"""The SQLite schema as numbered migrations, applied in order at start-up.

Append a new (version, script) pair to change the schema; never edit a released one. A
database whose newest applied version is above `LATEST` was written by a newer cvjobs and
is refused rather than misread.
"""

from __future__ import annotations

from typing import Final

from cvjobs.store import changes, counts, durations, rpo, webhooks
from cvjobs.store.schema import SHARED_MIGRATIONS, serial_ids

_V1: Final = """
CREATE TABLE app_types (
    id   INTEGER PRIMARY KEY,
    name TEXT NOT NULL
);
CREATE TABLE clients (
    id   INTEGER PRIMARY KEY,
    name TEXT NOT NULL
);
CREATE INDEX clients_name ON clients (name);
CREATE TABLE client_groups (
    id   INTEGER PRIMARY KEY,
    name TEXT NOT NULL
);
CREATE TABLE client_group_members (
    client_id INTEGER NOT NULL REFERENCES clients (id),
    group_id  INTEGER NOT NULL REFERENCES client_groups (id),
    PRIMARY KEY (client_id, group_id)
) WITHOUT ROWID;
-- Instance ids are shared between clients (DefaultInstanceName is 1 everywhere), so an
-- instance is only a name; the client/agent/instance tie lives on the backup set.
CREATE TABLE instances (
    id   INTEGER PRIMARY KEY,
    name TEXT NOT NULL
);
CREATE TABLE backupsets (
    id          INTEGER PRIMARY KEY,
    client_id   INTEGER REFERENCES clients (id),
    app_id      INTEGER REFERENCES app_types (id),
    instance_id INTEGER REFERENCES instances (id),
    name        TEXT NOT NULL
);
CREATE TABLE subclients (
    id           INTEGER PRIMARY KEY,
    backupset_id INTEGER REFERENCES backupsets (id),
    name         TEXT NOT NULL
);
CREATE TABLE storage_policies (
    id   INTEGER PRIMARY KEY,
    name TEXT NOT NULL
);
CREATE TABLE storage_policy_copies (
    id             INTEGER PRIMARY KEY,
    policy_id      INTEGER NOT NULL REFERENCES storage_policies (id),
    name           TEXT NOT NULL,
    retention_days INTEGER NOT NULL,
    is_default     INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX storage_policy_copies_policy ON storage_policy_copies (policy_id);
CREATE TABLE job_users (
    id   INTEGER PRIMARY KEY,
    name TEXT NOT NULL
);
CREATE TABLE jobs (
    id                        INTEGER PRIMARY KEY,
    status                    TEXT NOT NULL,
    job_type                  TEXT NOT NULL,
    client_id                 INTEGER REFERENCES clients (id),
    app_id                    INTEGER REFERENCES app_types (id),
    instance_id               INTEGER REFERENCES instances (id),
    backupset_id              INTEGER REFERENCES backupsets (id),
    subclient_id              INTEGER REFERENCES subclients (id),
    dest_client_id            INTEGER REFERENCES clients (id),
    storage_policy_id         INTEGER REFERENCES storage_policies (id),
    user_id                   INTEGER REFERENCES job_users (id),
    backup_level              INTEGER NOT NULL DEFAULT 0,
    current_phase             TEXT NOT NULL DEFAULT '',
    pending_reason            TEXT NOT NULL DEFAULT '',
    pending_reason_error_code TEXT NOT NULL DEFAULT '',
    percent_complete          REAL NOT NULL DEFAULT 0,
    percent_savings           REAL NOT NULL DEFAULT 0,
    size_of_application       INTEGER NOT NULL DEFAULT 0,
    size_of_media_on_disk     INTEGER NOT NULL DEFAULT 0,
    total_num_of_files        INTEGER NOT NULL DEFAULT 0,
    total_failed_files        INTEGER NOT NULL DEFAULT 0,
    total_failed_folders      INTEGER NOT NULL DEFAULT 0,
    start_time                INTEGER NOT NULL DEFAULT 0,
    end_time                  INTEGER NOT NULL DEFAULT 0,
    last_update_time          INTEGER NOT NULL DEFAULT 0,
    elapsed_time              INTEGER NOT NULL DEFAULT 0,
    is_aged                   INTEGER NOT NULL DEFAULT 0,
    is_visible                INTEGER NOT NULL DEFAULT 1,
    submit_error_code         INTEGER NOT NULL DEFAULT 0,
    is_preemptable            INTEGER NOT NULL DEFAULT 0
);
-- The columns job lists filter and sort on (issue 3). Each index ends with the id so a
-- filtered page comes out in id order without a sort.
CREATE INDEX jobs_status       ON jobs (status, id);
CREATE INDEX jobs_type         ON jobs (job_type, id);
CREATE INDEX jobs_client       ON jobs (client_id, id);
CREATE INDEX jobs_subclient    ON jobs (subclient_id, id);
CREATE INDEX jobs_backupset    ON jobs (backupset_id, id);
CREATE INDEX jobs_start_time   ON jobs (start_time, id);
CREATE INDEX jobs_end_time     ON jobs (end_time, id);
CREATE INDEX jobs_last_update  ON jobs (last_update_time, id);
CREATE INDEX jobs_aged_visible ON jobs (is_aged, is_visible, id);
-- AdvancedDetails sections ("jobRetention", "bkpInfo", ...) and JobDetails extras
-- ("jobDetail") as JSON text, one row per job and section.
CREATE TABLE job_sections (
    job_id INTEGER NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    name   TEXT NOT NULL,
    body   TEXT NOT NULL,
    PRIMARY KEY (job_id, name)
) WITHOUT ROWID;
CREATE TABLE accounts (
    id            INTEGER PRIMARY KEY,
    name          TEXT NOT NULL UNIQUE COLLATE NOCASE,
    password_hash TEXT NOT NULL,
    is_admin      INTEGER NOT NULL DEFAULT 0,
    disabled      INTEGER NOT NULL DEFAULT 0,
    created_at    INTEGER NOT NULL
);
-- Login sessions, keyed by the SHA-256 of the token; the token itself is never stored.
CREATE TABLE sessions (
    token_hash   BLOB PRIMARY KEY,
    account_id   INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    created_at   INTEGER NOT NULL,
    last_used    INTEGER NOT NULL,
    idle_seconds INTEGER NOT NULL
) WITHOUT ROWID;
"""

# v2: job control and events. `auto_resume_at` is when a suspended job resumes by itself
# (pause with autoResumeInSec), 0 for never.
_V2: Final = """
ALTER TABLE jobs ADD COLUMN auto_resume_at INTEGER NOT NULL DEFAULT 0;
CREATE TABLE events (
    id            INTEGER PRIMARY KEY,
    job_id        INTEGER,
    client_id     INTEGER,
    time          INTEGER NOT NULL,
    severity      INTEGER NOT NULL,
    event_code    TEXT NOT NULL,
    subsystem     TEXT NOT NULL,
    description   TEXT NOT NULL,
    user_name     TEXT NOT NULL DEFAULT '',
    from_status   TEXT NOT NULL DEFAULT '',
    to_status     TEXT NOT NULL DEFAULT '',
    acknowledged  INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX events_job    ON events (job_id, id);
CREATE INDEX events_client ON events (client_id, id);
CREATE INDEX events_time   ON events (time, id);
"""

# Versions 3 on are spelled the same on both backends.
MIGRATIONS: Final[tuple[tuple[int, str], ...]] = (
    (1, _V1),
    (2, _V2),
    *serial_ids(SHARED_MIGRATIONS, "INTEGER PRIMARY KEY"),
    # v10: job counts kept ahead by triggers (store/counts.py).
    (10, counts.migration("sqlite")),
    # v11: the change log, appended by triggers (store/changes.py).
    (11, changes.migration("sqlite")),
    # v12: finished jobs' durations kept ahead by triggers (store/durations.py).
    (12, durations.migration("sqlite")),
    # v13: webhooks and their deliveries (store/webhooks.py).
    (13, webhooks.migration("INTEGER PRIMARY KEY")),
    # v14: webhooks' templates and secret rotation (store/webhooks.py).
    (14, webhooks.ROTATION_MIGRATION),
    # v15: recovery point objectives per client group, and overdue clients (store/rpo.py).
    (15, rpo.MIGRATION),
)
LATEST: Final = MIGRATIONS[-1][0]
