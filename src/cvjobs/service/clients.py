"""Reading clients, client groups, backup sets, subclients and storage policies, within an
account's scope (the read-only entity routes: GET Client, ClientGroup, Subclient, GetId...).

Scoping is the jobs' rule (`Scope.allows_client`): a client is seen when it, or one of its
groups, is in the scope. A client out of scope looks exactly like an absent one: the same
reads are made whoever asks, then what the account may not see is dropped, so neither the
answer nor its cost tells the two apart. A client group is seen when one of its members is
seen or the group itself is in the scope, and lists only the members seen. Storage
policies are not per client: every account sees all of them [OURS].

`NOT_FOUND_ID` is what GetId answers for a name it does not know.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Protocol

from cvjobs.errors import OperationFailed
from cvjobs.model import ClientGroupInfo, ClientInfo, EntityPath, Ref, Scope, StoragePolicy
from cvjobs.store.protocols import EntityReads, JobExport, JobReads

# The PowerShell SDK's Get-CVId tests `clientId -eq -32000` for "client not found".
NOT_FOUND_ID = -32000


class ClientsCatalogue(EntityReads, JobReads, JobExport, Protocol):
    """What the entity routes read: entities, and jobs for storage policies."""


def sees(scope: Scope, info: ClientInfo) -> bool:
    return scope.allows_client(info.client.id, (g.id for g in info.groups))


def _named(name: str | None) -> Callable[[Ref], bool]:
    """A test of a Ref's name against `name` (any casing); None matches everything."""
    wanted = None if name is None else name.strip().lower()
    return lambda ref: wanted is None or ref.name.lower() == wanted


class ClientService:
    def __init__(self, store: ClientsCatalogue) -> None:
        self._store = store

    # -- clients ---------------------------------------------------------------------

    async def clients(self, scope: Scope) -> list[ClientInfo]:
        """Every client the scope sees, in id order."""
        return [c for c in await self._store.clients() if sees(scope, c)]

    async def client(self, client_id: int, scope: Scope) -> ClientInfo:
        """The client; OperationFailed (HTTP 200, the generic error body) when there is
        none or the scope does not see it, with the same message either way."""
        found = await self._visible(await self._store.clients(client_id=client_id), scope)
        if found is None:
            raise OperationFailed(f"No client exists with the client ID {client_id}")
        return found

    async def client_named(self, name: str, scope: Scope) -> ClientInfo:
        """The client of this name (any casing; the lowest id if several share it)."""
        found = await self._visible(await self._store.clients(name=name), scope)
        if found is None:
            raise OperationFailed(f"No client exists with the client name {name[:100]!r}")
        return found

    @staticmethod
    async def _visible(found: Iterable[ClientInfo], scope: Scope) -> ClientInfo | None:
        return next((c for c in found if sees(scope, c)), None)

    # -- client groups ---------------------------------------------------------------

    async def groups(self, scope: Scope) -> list[ClientGroupInfo]:
        """Every client group the scope sees, in id order, with the members it sees."""
        groups = (self._scoped(g, scope) for g in await self._store.client_groups())
        return [g for g in groups if g is not None]

    async def group(self, group_id: int, scope: Scope) -> ClientGroupInfo:
        """The group with the members the scope sees; OperationFailed, alike, when there
        is none or the scope sees neither it nor any of its members."""
        found = await self._store.client_groups(group_id)
        group = self._scoped(found[0], scope) if found else None
        if group is None:
            raise OperationFailed(f"No client group exists with the ID {group_id}")
        return group

    @staticmethod
    def _scoped(group: ClientGroupInfo, scope: Scope) -> ClientGroupInfo | None:
        if scope.everything:
            return group
        members = tuple(m for m in group.members if sees(scope, m))
        if not members and group.group.id not in scope.groups:
            return None
        return ClientGroupInfo(group.group, members)

    # -- what a client holds ---------------------------------------------------------

    async def backupsets(
        self,
        client_id: int,
        scope: Scope,
        *,
        app_id: int | None = None,
        instance_id: int | None = None,
    ) -> list[EntityPath]:
        """The client's backup sets (none when the scope does not see the client),
        optionally of one agent and instance."""
        if not await self._sees_client(client_id, scope):
            return []
        return [
            b
            for b in await self._store.backupsets_of(client_id)
            if app_id in (None, b.app.id) and instance_id in (None, b.instance.id)
        ]

    async def instances(
        self, client_id: int, scope: Scope, *, app_id: int | None = None
    ) -> list[EntityPath]:
        """The client's instances, one per agent and instance (from its backup sets; the
        `backupset` of each is Ref())."""
        seen: dict[tuple[int, int], EntityPath] = {}
        for b in await self.backupsets(client_id, scope, app_id=app_id):
            seen.setdefault(
                (b.app.id, b.instance.id), EntityPath(b.client, b.app, b.instance, Ref())
            )
        return list(seen.values())

    async def subclients(
        self,
        client_id: int,
        scope: Scope,
        *,
        app_id: int | None = None,
        backupset_id: int | None = None,
        instance_id: int | None = None,
    ) -> list[EntityPath]:
        """The client's subclients (none when the scope does not see the client),
        optionally of one agent, backup set and instance."""
        if not await self._sees_client(client_id, scope):
            return []
        return [
            s
            for s in await self._store.subclients_of(client_id)
            if app_id in (None, s.app.id)
            and backupset_id in (None, s.backupset.id)
            and instance_id in (None, s.instance.id)
        ]

    async def agents(
        self, client_id: int, scope: Scope, *, app_id: int | None = None
    ) -> list[EntityPath]:
        """The client's agents (application types, from its backup sets), in the order
        of their first backup set; each is that backup set's path."""
        seen: dict[int, EntityPath] = {}
        for b in await self.backupsets(client_id, scope, app_id=app_id):
            if b.app.id:
                seen.setdefault(b.app.id, b)
        return list(seen.values())

    async def backupset(self, backupset_id: int, scope: Scope) -> EntityPath:
        """One backup set; OperationFailed, alike, when there is none or the scope does
        not see its client (whose read is made either way)."""
        found = await self._store.backupset(backupset_id)
        if not await self._sees_client(found.client.id if found else 0, scope) or not found:
            raise OperationFailed(f"No backup set exists with the ID {backupset_id}")
        return found

    async def subclient(self, subclient_id: int, scope: Scope) -> tuple[EntityPath, Ref]:
        """One subclient and its storage policy (that of its newest job naming one);
        OperationFailed, alike, when there is none or the scope does not see its
        client."""
        found = await self._store.subclient(subclient_id)
        if not await self._sees_client(found.client.id if found else 0, scope) or not found:
            raise OperationFailed(f"No subclient exists with the ID {subclient_id}")
        return found, await self._store.subclient_policy(subclient_id)

    async def _sees_client(self, client_id: int, scope: Scope) -> bool:
        return (
            await self._visible(await self._store.clients(client_id=client_id), scope) is not None
        )

    async def ids(
        self,
        client_name: str,
        scope: Scope,
        *,
        agent: str | None = None,
        instance: str | None = None,
        backupset: str | None = None,
        subclient: str | None = None,
    ) -> dict[str, object]:
        """GetId: the id and name of the named client and, when named, of its agent
        (applicationId, appName), instance, backup set and subclient, as the vendor
        documents them. A name not found (or a client out of scope) answers NOT_FOUND_ID
        in its place and stops there [OURS beyond the client]."""
        try:
            client = await self.client_named(client_name, scope)
        except OperationFailed:
            return {"clientId": NOT_FOUND_ID}
        found: dict[str, object] = {"clientId": client.client.id, "clientName": client.client.name}
        if agent is None and instance is None and backupset is None and subclient is None:
            return found
        paths = await self._store.subclients_of(client.client.id)
        paths += await self._store.backupsets_of(client.client.id)
        parts: tuple[tuple[str, str, str | None, Callable[[EntityPath], Ref]], ...] = (
            ("applicationId", "appName", agent, lambda p: p.app),
            ("instanceId", "instanceName", instance, lambda p: p.instance),
            ("backupsetId", "backupsetName", backupset, lambda p: p.backupset),
            ("subclientId", "subclientName", subclient, lambda p: p.subclient),
        )
        for id_key, name_key, name, part in parts:
            if name is None:
                continue
            matches = _named(name)
            paths = [p for p in paths if part(p).id and matches(part(p))]
            if not paths:
                found[id_key] = NOT_FOUND_ID
                return found
            # Of several of that name (a backup set of each agent), the first; the names
            # after it are looked for under that one.
            chosen = min((part(p) for p in paths), key=lambda ref: ref.id)
            paths = [p for p in paths if part(p).id == chosen.id]
            found[id_key], found[name_key] = chosen.id, chosen.name
        return found

    # -- storage policies ------------------------------------------------------------

    async def storage_policies(self) -> list[StoragePolicy]:
        """Every storage policy, with its copies, in id order."""
        return await self._store.storage_policies()

    async def storage_policy(self, policy_id: int) -> StoragePolicy:
        policy = await self._store.get_storage_policy(policy_id)
        if policy is None:
            raise OperationFailed(f"No storage policy exists with the ID {policy_id}")
        return policy
