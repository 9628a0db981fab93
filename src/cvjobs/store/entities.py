"""Reads of the entities job records name (clients, client groups, backup sets,
subclients): for the read-only entity routes (GET Client, ClientGroup, Subclient, ...),
and what scoped writes and scope changes look up (stored_entities, entity_ids).

`EntityTables` is a mixin of `SqlStore`: it needs only the store's `Database`. The reads
know nothing of scopes; the service filters what an account may see, after the same
queries whoever asks (so a hidden entity costs what an absent one does).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any, cast

from cvjobs.model import ClientGroupInfo, ClientInfo, EntityPath, Ref
from cvjobs.store.driver import Connection, Database, Row
from cvjobs.store.filters import in_list
from cvjobs.store.values import ENTITY_KINDS, StoredEntity

# A backup set with its client, agent and instance; subclients join it.
_PATH = (
    "SELECT b.client_id, c.name, b.app_id, a.name, b.instance_id, i.name, b.id, b.name{extra}"
    " FROM {head}"
    " LEFT JOIN clients c ON c.id = b.client_id"
    " LEFT JOIN app_types a ON a.id = b.app_id"
    " LEFT JOIN instances i ON i.id = b.instance_id"
    " WHERE {where} = ?"
)
_OF_BACKUPSETS = {"extra": "", "head": "backupsets b"}
_OF_SUBCLIENTS = {
    "extra": ", s.id, s.name",
    "head": "subclients s JOIN backupsets b ON b.id = s.backupset_id",
}
_BACKUPSETS = _PATH.format(**_OF_BACKUPSETS, where="b.client_id") + " ORDER BY b.id"
_BACKUPSET = _PATH.format(**_OF_BACKUPSETS, where="b.id")
_SUBCLIENTS = _PATH.format(**_OF_SUBCLIENTS, where="b.client_id") + " ORDER BY s.id"
_SUBCLIENT = _PATH.format(**_OF_SUBCLIENTS, where="s.id")


def _ref(entity_id: Any, name: Any) -> Ref:
    return Ref(int(entity_id or 0), name or "")


def _path(row: Row) -> EntityPath:
    return EntityPath(
        _ref(row[0], row[1]),
        _ref(row[2], row[3]),
        _ref(row[4], row[5]),
        _ref(row[6], row[7]),
        _ref(row[8], row[9]) if len(row) > 8 else Ref(),
    )


class EntityTables:
    """The entity reads of a SQL store (see the module docstring)."""

    _db: Database

    async def clients(
        self, *, client_id: int | None = None, name: str | None = None
    ) -> list[ClientInfo]:
        """Every stored client in id order with its groups; or only the one with this id,
        or those with this name (any casing)."""
        where, params = "", cast(tuple[Any, ...], ())
        if client_id is not None:
            where, params = " WHERE c.id = ?", (client_id,)
        elif name is not None:
            where, params = " WHERE lower(c.name) = ?", (name.lower(),)
        async with self._db.reading() as conn:
            rows = await conn.fetchall(
                "SELECT c.id, c.name, g.id, g.name FROM clients c"
                " LEFT JOIN client_group_members m ON m.client_id = c.id"
                " LEFT JOIN client_groups g ON g.id = m.group_id"
                f"{where} ORDER BY c.id, g.id",
                params,
            )
        return _clients(rows)

    async def client_groups(self, group_id: int | None = None) -> list[ClientGroupInfo]:
        """Every stored client group in id order (or only this one) with its members,
        each member with all of its groups."""
        where, params = "", cast(tuple[Any, ...], ())
        if group_id is not None:
            where, params = " WHERE g.id = ?", (group_id,)
        async with self._db.reading() as conn:
            rows = await conn.fetchall(
                "SELECT g.id, g.name, m.client_id FROM client_groups g"
                " LEFT JOIN client_group_members m ON m.group_id = g.id"
                f"{where} ORDER BY g.id, m.client_id",
                params,
            )
            members = await _members(conn, group_id)
        groups: dict[int, tuple[Ref, list[ClientInfo]]] = {}
        for gid, gname, member in rows:
            _, listed = groups.setdefault(int(gid), (_ref(gid, gname), []))
            if member is not None and int(member) in members:
                listed.append(members[int(member)])
        return [ClientGroupInfo(group, tuple(listed)) for group, listed in groups.values()]

    async def backupsets_of(self, client_id: int) -> list[EntityPath]:
        """The backup sets of a client in id order, each with its agent and instance."""
        async with self._db.reading() as conn:
            rows = await conn.fetchall(_BACKUPSETS, (client_id,))
        return [_path(r) for r in rows]

    async def subclients_of(self, client_id: int) -> list[EntityPath]:
        """The subclients of a client in id order, each with its whole path."""
        async with self._db.reading() as conn:
            rows = await conn.fetchall(_SUBCLIENTS, (client_id,))
        return [_path(r) for r in rows]

    async def backupset(self, backupset_id: int) -> EntityPath | None:
        """The backup set with its client, agent and instance."""
        async with self._db.reading() as conn:
            row = await conn.fetchone(_BACKUPSET, (backupset_id,))
        return _path(row) if row else None

    async def subclient(self, subclient_id: int) -> EntityPath | None:
        """The subclient with its whole path."""
        async with self._db.reading() as conn:
            row = await conn.fetchone(_SUBCLIENT, (subclient_id,))
        return _path(row) if row else None

    async def subclient_policy(self, subclient_id: int) -> Ref:
        """The storage policy of the subclient's newest job that names one (Ref() if
        none does): the catalogue keeps no subclient properties of its own."""
        async with self._db.reading() as conn:
            row = await conn.fetchone(
                "SELECT p.id, p.name FROM jobs j JOIN storage_policies p"
                " ON p.id = j.storage_policy_id WHERE j.subclient_id = ?"
                " ORDER BY j.id DESC LIMIT 1",
                (subclient_id,),
            )
        return _ref(row[0], row[1]) if row else Ref()

    async def client_groups_of(self, client_ids: Collection[int]) -> dict[int, frozenset[int]]:
        ids = tuple(sorted(set(client_ids)))
        if not ids:
            return {}
        async with self._db.reading() as conn:
            rows = await conn.fetchall(
                "SELECT client_id, group_id FROM client_group_members WHERE "
                + in_list("client_id", ids),
                ids,
            )
        groups: dict[int, set[int]] = {client_id: set() for client_id in ids}
        for client_id, group_id in rows:
            groups[client_id].add(group_id)
        return {client_id: frozenset(g) for client_id, g in groups.items()}

    async def stored_entities(
        self, wanted: Mapping[str, Collection[int]]
    ) -> dict[str, dict[int, StoredEntity]]:
        found: dict[str, dict[int, StoredEntity]] = {kind: {} for kind in ENTITY_KINDS}
        async with self._db.reading() as conn:
            for kind, ids in wanted.items():
                rows: dict[int, StoredEntity] = found[kind]
                chosen = sorted(set(ids) - {0})
                for start in range(0, len(chosen), 1000):
                    chunk = tuple(chosen[start : start + 1000])
                    for entity_id, name, owner, parent in await conn.fetchall(
                        _ENTITY_FACTS[kind] + in_list(_ENTITY_ID[kind], chunk), chunk
                    ):
                        old = rows.get(entity_id)
                        owners = frozenset([owner] if owner else ())
                        if old is not None:  # an instance used by several backup sets
                            owners |= old.owners
                        rows[entity_id] = StoredEntity(name or "", owners, parent or 0)
        return found

    async def entity_ids(self, table: str, names: Collection[str]) -> dict[str, int]:
        """Ids of the clients or client groups with these names (any casing)."""
        if table not in ("clients", "client_groups") or not names:
            return {}
        lowered = frozenset(n.lower() for n in names)
        async with self._db.reading() as conn:
            rows = await conn.fetchall(
                f"SELECT lower(name), min(id) FROM {table}"
                f" WHERE {in_list('lower(name)', lowered)} GROUP BY lower(name)",
                tuple(lowered),
            )
        return {row[0]: int(row[1]) for row in rows}

    async def entity_names(self, table: str, ids: Collection[int]) -> dict[int, str]:
        if table not in ("clients", "client_groups") or not ids:
            return {}
        async with self._db.reading() as conn:
            rows = await conn.fetchall(
                f"SELECT id, name FROM {table} WHERE {in_list('id', ids)}", tuple(sorted(ids))
            )
        return {int(row[0]): row[1] for row in rows}


async def _members(conn: Connection, group_id: int | None) -> dict[int, ClientInfo]:
    """The members of the group (of every group: None), each with all of its groups.
    The query runs whatever the group holds, so that a group out of scope costs what an
    absent one does."""
    sql = (
        "SELECT c.id, c.name, g.id, g.name FROM clients c"
        " LEFT JOIN client_group_members m ON m.client_id = c.id"
        " LEFT JOIN client_groups g ON g.id = m.group_id"
    )
    params: tuple[Any, ...] = ()
    if group_id is not None:
        sql += " WHERE c.id IN (SELECT client_id FROM client_group_members WHERE group_id = ?)"
        params = (group_id,)
    rows = await conn.fetchall(sql + " ORDER BY c.id, g.id", params)
    return {info.client.id: info for info in _clients(rows)}


def _clients(rows: Collection[Row]) -> list[ClientInfo]:
    """ClientInfo from (client id, name, group id, group name) rows in client order."""
    found: dict[int, tuple[Ref, list[Ref]]] = {}
    for cid, cname, gid, gname in rows:
        _, groups = found.setdefault(int(cid), (_ref(cid, cname), []))
        if gid is not None:
            groups.append(_ref(gid, gname))
    return [ClientInfo(client, tuple(groups)) for client, groups in found.values()]


# (id, name, owning client, parent) of each kind of entity, for stored_entities. Clients
# own themselves; backup sets belong to their client, subclients to their backup set's, and
# instances to the clients of the backup sets in them; the rest are shared.
_ENTITY_FACTS = {
    "clients": "SELECT id, name, id, 0 FROM clients WHERE ",
    "app_types": "SELECT id, name, NULL, 0 FROM app_types WHERE ",
    "storage_policies": "SELECT id, name, NULL, 0 FROM storage_policies WHERE ",
    "job_users": "SELECT id, name, NULL, 0 FROM job_users WHERE ",
    "backupsets": "SELECT id, name, client_id, client_id FROM backupsets WHERE ",
    "subclients": "SELECT s.id, s.name, b.client_id, s.backupset_id FROM subclients s"
    " LEFT JOIN backupsets b ON b.id = s.backupset_id WHERE ",
    "instances": "SELECT i.id, i.name, b.client_id, 0 FROM instances i"
    " LEFT JOIN backupsets b ON b.instance_id = i.id WHERE ",
}
_ENTITY_ID = {**dict.fromkeys(_ENTITY_FACTS, "id"), "subclients": "s.id", "instances": "i.id"}
