"""`cvjobs copy`: a whole catalogue from one store to another, SQLite or PostgreSQL either
way: storage policies, accounts (with their password hashes, roles and scopes), access
tokens (as their hashes, so they keep working), jobs with their entities and sections,
events and the audit log. Login sessions are not copied: users log in again. The target
must hold no jobs, so nothing is merged by accident."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from cvjobs.errors import InvalidRecord
from cvjobs.store.protocols import Store

PAGE = 10_000


@dataclass(frozen=True, slots=True)
class Copied:
    jobs: int
    events: int
    accounts: int
    policies: int
    tokens: int = 0
    audit: int = 0
    # Accounts the target had already, under the same name (case-insensitive), and kept.
    kept: tuple[str, ...] = ()


async def copy_catalogue(
    source: Store,
    target: Store,
    progress: Callable[[int], None] = lambda _: None,
    *,
    replace_accounts: bool = False,
) -> Copied:
    """Copy everything; an account the target has already is kept as it is, unless
    `replace_accounts` (then it takes the source's password, role, state and scope).
    `progress` is told how many jobs each page copied."""
    if await target.count_jobs():
        raise InvalidRecord("copy", "the target catalogue already has jobs; copy into an empty one")
    policies = await source.storage_policies()
    await target.put_storage_policies(policies)
    existing = {a.account.name.lower(): a.account.account_id for a in await target.accounts()}
    accounts, kept = 0, []
    for stored in await source.accounts():
        account = stored.account
        target_id = existing.get(account.name.lower())
        if target_id is not None and not replace_accounts:
            kept.append(account.name)
            continue
        if target_id is None:
            target_id = (
                await target.create_account(account.name, stored.password_hash, role=account.role)
            ).account_id
            await target.update_account(target_id, disabled=account.disabled)
        else:
            await target.update_account(
                target_id,
                password_hash=stored.password_hash,
                role=account.role,
                disabled=account.disabled,
            )
        await target.set_scope(target_id, account.scope)
        accounts += 1
    target_ids = {a.account.name.lower(): a.account.account_id for a in await target.accounts()}
    tokens = await source.access_tokens()
    for t in tokens:
        await target.create_access_token(
            t.token_hash,
            target_ids[t.account.name.lower()],
            t.name,
            t.created_at,
            t.expires_at,
            revoked_at=t.revoked_at,
            last_used=t.last_used,
        )
    jobs = 0
    after = 0
    while page := await source.export_jobs(after, PAGE):
        jobs += await target.upsert_jobs(page)
        after = page[-1].job.job_id
        progress(len(page))
    await target.give_to_engine(await source.engine_jobs())
    events = 0
    after = 0
    while batch := await source.export_events(after, PAGE):
        await target.add_events([replace(e, event_id=0) for e in batch])
        events += len(batch)
        after = batch[-1].event_id
    audit = 0
    after = 0
    while entries := await source.export_audit(after, PAGE):
        await target.add_audit([replace(e, entry_id=0) for e in entries])
        audit += len(entries)
        after = entries[-1].entry_id
    return Copied(
        jobs=jobs,
        events=events,
        accounts=accounts,
        policies=len(policies),
        tokens=len(tokens),
        audit=audit,
        kept=tuple(kept),
    )
