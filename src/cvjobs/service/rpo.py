"""Recovery point objectives: each client should have a successful backup within its RPO,
the smallest RPO of its client groups that have one, else the server's default
(--rpo-hours, 24). A client is overdue from its last successful backup's end plus its
RPO; one with no successful backup yet, from its first finished backup's end plus its RPO;
one with no finished backup is not watched (nothing backs it up here). The outbox tells
webhooks of each overdue spell once (job.overdue); `cvjobs rpo` sets and shows RPOs."""

from __future__ import annotations

from typing import Protocol

from cvjobs.errors import BadRequest
from cvjobs.model import ClientRpo, Freshness, Scope
from cvjobs.store.protocols import EntityLookups, RpoStore

MAX_RPO_HOURS = 8760  # a year


class RpoCatalogue(RpoStore, EntityLookups, Protocol):
    """What the RPO rules read and write."""


def overdue_at(f: Freshness, default_seconds: int) -> int:
    """When the client is (or will be) overdue."""
    return (f.last_success_end or f.first_backup_end) + (f.rpo_seconds or default_seconds)


class RpoService:
    def __init__(self, store: RpoCatalogue, *, default_hours: int) -> None:
        self._store = store
        self.default_seconds = default_hours * 3600

    async def _group(self, group: str) -> tuple[int, str]:
        """A client group by id or by name (any casing)."""
        groups = {gid: name for gid, name, _ in await self._store.group_rpos()}
        if group.isdigit() and int(group) in groups:
            return int(group), groups[int(group)]
        found = await self._store.entity_ids("client_groups", [group])
        if group.lower() in found:
            gid = found[group.lower()]
            return gid, groups.get(gid, group)
        raise BadRequest(f"there is no client group {group[:100]!r}")

    async def set_group(self, group: str, hours: int) -> tuple[int, str]:
        """Give a group an RPO of `hours` (0: the default again); its (id, name)."""
        if not 0 <= hours <= MAX_RPO_HOURS:
            raise BadRequest(f"an RPO is 1 to {MAX_RPO_HOURS} hours (0: the default)")
        gid, name = await self._group(group)
        await self._store.set_group_rpo(gid, hours * 3600)
        return gid, name

    async def groups(self) -> list[tuple[int, str, int]]:
        """(id, name, RPO seconds; 0 for the default) of every client group."""
        return await self._store.group_rpos()

    async def overdue(self, now: int) -> list[tuple[Freshness, int]]:
        """The clients overdue at `now`, each with the time it became so."""
        found = []
        for f in await self._store.client_freshness():
            since = overdue_at(f, self.default_seconds)
            if since <= now:
                found.append((f, since))
        return found

    async def clients(self, now: int, scope: Scope) -> list[ClientRpo]:
        """Every watched client in `scope`, with its RPO and whether it is overdue."""
        return [
            ClientRpo(
                f.client,
                f.rpo_seconds or self.default_seconds,
                f.last_success_end,
                overdue_at(f, self.default_seconds) <= now,
            )
            for f in await self._store.client_freshness(scope)
        ]
