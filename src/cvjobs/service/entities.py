"""Which entities a write that is not an administrator's may create or rename.

Entity names are shared by every job that refers to them: renaming a client, a subclient
or a storage policy changes what every account sees on jobs it may not touch. So a write
by an operator may create or rename only entities that belong to clients in its scope (a
client itself, a destination client, and the instances, backup sets and subclients of
such clients); an entity of another client may be named only as it is stored (or by id
alone). Application types, storage policies and job users belong to no client: only
administrators create or rename them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from cvjobs.errors import Forbidden
from cvjobs.model import Job, JobRecord, Ref, Scope
from cvjobs.store.protocols import EntityLookups
from cvjobs.store.values import ENTITY_KINDS, StoredEntity

# Kinds whose entities belong to a client; a new one belongs to the record's client.
_PER_CLIENT = frozenset({"clients", "instances", "backupsets", "subclients"})
_WHAT = {
    "clients": "client",
    "app_types": "application",
    "instances": "instance",
    "backupsets": "backup set",
    "subclients": "subclient",
    "storage_policies": "storage policy",
    "job_users": "job user",
}
assert set(_WHAT) == set(ENTITY_KINDS)


def named_entities(job: Job) -> list[tuple[str, Ref, int]]:
    """(kind, entity, parent) of each entity a job record names, as the store would write
    it: a backup set under the job's client, a subclient under its backup set."""
    return [
        ("clients", job.client, 0),
        ("clients", job.dest_client, 0),
        ("app_types", job.app, 0),
        ("instances", job.instance, 0),
        ("backupsets", job.backupset, job.client.id),
        ("subclients", job.subclient, job.backupset.id),
        ("storage_policies", job.storage_policy, 0),
        ("job_users", job.user, 0),
    ]


async def check_entities(store: EntityLookups, records: Sequence[JobRecord], scope: Scope) -> None:
    """Forbidden, naming the job and the entity, unless every entity the records would
    create or change is one a writer with `scope` (not an administrator) may change."""
    wanted: dict[str, set[int]] = {kind: set() for kind in ENTITY_KINDS}
    for record in records:
        for kind, ref, _ in named_entities(record.job):
            if ref.id:
                wanted[kind].add(ref.id)
    stored = await store.stored_entities(wanted)
    clients = {r.job.client.id for r in records} | wanted["clients"]
    for rows in stored.values():
        for entity in rows.values():
            clients |= entity.owners
    groups = await store.client_groups_of(clients) if not scope.everything else {}

    def in_scope(client_id: int) -> bool:
        return bool(client_id) and scope.allows_client(client_id, groups.get(client_id, ()))

    for record in records:
        job = record.job
        for kind, ref, parent in named_entities(job):
            found = stored[kind].get(ref.id)
            if ref.id and not _may_write(kind, ref, parent, found, job, in_scope):
                raise Forbidden(
                    f"job {job.job_id}: {_WHAT[kind]} {ref.id} is not one you may create or"
                    f" rename (it belongs to no client you may write); nothing was written"
                )


def _may_write(
    kind: str,
    ref: Ref,
    parent: int,
    stored: StoredEntity | None,
    job: Job,
    in_scope: Callable[[int], bool],
) -> bool:
    if stored is None:  # a new entity: of the record's client, or a client in scope
        return kind in _PER_CLIENT and in_scope(ref.id if kind == "clients" else job.client.id)
    renamed = bool(ref.name) and ref.name != stored.name
    moved = bool(parent) and parent != stored.parent
    if not renamed and not moved:
        return True  # named as stored: nothing about it changes
    return kind in _PER_CLIENT and bool(stored.owners) and all(in_scope(c) for c in stored.owners)
