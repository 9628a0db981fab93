"""The read-only entity routes: clients, client groups, instances, backup sets,
subclients, GetId and storage policies, which clients read before they touch a job.

Handlers parse the query strictly where they use it (a malformed id is a 400 in the
client's format) and ignore parameters they do not use, as the vendor does: cvpysdk sends
`propertyLevel`, `excludeHidden` and `getAll=TRUE` along. Parameter names match in any
casing (cvpysdk sends `clientname`, the PowerShell SDK `clientName`). Scoping is the
service's (`cvjobs.service.clients`).
"""

from __future__ import annotations

import re

from starlette.responses import Response

from cvjobs.errors import BadRequest
from cvjobs.http import operations as ops
from cvjobs.http import queries
from cvjobs.http.dispatch import Context, Route, single_query
from cvjobs.render import entities

# XML roots: the vendor's where a client reads them (App_PerformClientGroupResp and
# App_GetSubClientPropertiesResponse: a Zabbix discovery's XPath; App_GetClientProperties
# Response: pinkopy's fallback), [OURS] for the rest.
CLIENTS_ROOT = "App_GetClientPropertiesResponse"
GROUPS_ROOT = "App_GetClientGroupsResponse"
GROUP_ROOT = "App_PerformClientGroupResp"
SUBCLIENTS_ROOT = "App_GetSubClientPropertiesResponse"
BACKUPSETS_ROOT = "App_GetBackupsetPropertiesResponse"
INSTANCES_ROOT = "App_GetInstancePropertiesResponse"
ID_ROOT = "App_GetIdResponse"
POLICIES_ROOT = "App_GetStoragePolicyListResponse"
POLICY_ROOT = "App_GetStoragePolicyPropertiesResponse"
ACCESS_NODES_ROOT = "App_VSAClientAndClientGroupListResponse"
AGENTS_ROOT = "App_GetAgentPropertiesResponse"
SCHEDULES_ROOT = "TMMsg_GetTaskDetailResp"

# Longest entity name looked up [OURS]: longer is a 400, not a read.
MAX_NAME = 1024
# The PHP library's GET Client/byName(clientName='NAME'), quotes and parentheses as is.
_BY_NAME = re.compile(r"byname\(clientname='(.*)'\)", re.IGNORECASE | re.DOTALL)


def query(ctx: Context, name: str) -> str | None:
    """A query parameter named in any casing, given at most once. (`+` is already a
    space: the PowerShell SDK's UrlEncode spells spaces so.)"""
    return single_query(ctx, name)


def entity_id(value: str, what: str) -> int:
    return queries.whole(value, what, low=1)


def optional_id(ctx: Context, name: str) -> int | None:
    raw = query(ctx, name)
    return None if raw is None else entity_id(raw, name)


def required_id(ctx: Context, name: str) -> int:
    found = optional_id(ctx, name)
    if found is None:
        raise BadRequest(f"{name} is required")
    return found


def entity_name(value: str, what: str) -> str:
    """A name to look up: at most MAX_NAME characters of text a database can compare
    (no NUL, which PostgreSQL refuses in text, nor lone surrogates)."""
    if len(value) > MAX_NAME:
        raise BadRequest(f"{what} is longer than {MAX_NAME} characters")
    if "\x00" in value or _unencodable(value):
        raise BadRequest(f"{what} contains characters no name has")
    return value


def _unencodable(value: str) -> bool:
    try:
        value.encode()
    except UnicodeEncodeError:
        return True
    return False


def optional_name(ctx: Context, name: str) -> str | None:
    raw = query(ctx, name)
    return None if raw is None else entity_name(raw, name)


# -- clients --------------------------------------------------------------------------


async def list_clients(ctx: Context) -> Response:
    pseudo = query(ctx, "PseudoClientType")
    if pseudo is not None:
        if pseudo.lower() != "vspseudo":
            raise BadRequest(f"unknown PseudoClientType {pseudo[:40]!r} (known: VSPseudo)")
        return ctx.respond(CLIENTS_ROOT, entities.pseudo_clients())
    hidden = query(ctx, "hiddenclients")
    if hidden is not None:
        queries.flag(hidden, "hiddenclients")  # the catalogue hides no client: same list
    found = await ctx.services.clients.clients(ctx.scope)
    return ctx.respond(CLIENTS_ROOT, entities.client_list(found))


async def get_client(ctx: Context) -> Response:
    segment = ctx.params["client"]
    by_name = _BY_NAME.fullmatch(segment)
    service = ctx.services.clients
    if by_name:
        info = await service.client_named(entity_name(by_name[1], "clientName"), ctx.scope)
    else:
        info = await service.client(entity_id(segment, "client id"), ctx.scope)
    body = entities.client_detail(info, ctx.services.commcell.service_pack)
    return ctx.respond(CLIENTS_ROOT, body)


async def access_nodes(ctx: Context) -> Response:
    return ctx.respond(ACCESS_NODES_ROOT, entities.access_nodes())


async def get_id(ctx: Context) -> Response:
    name = optional_name(ctx, "clientName")
    if name is None:
        raise BadRequest("GetId needs a clientName")
    found = await ctx.services.clients.ids(
        name,
        ctx.scope,
        agent=optional_name(ctx, "agent"),
        instance=optional_name(ctx, "instanceName"),
        backupset=optional_name(ctx, "backupset"),
        subclient=optional_name(ctx, "subclient"),
    )
    return ctx.respond(ID_ROOT, found)


# -- client groups --------------------------------------------------------------------


async def list_groups(ctx: Context) -> Response:
    found = await ctx.services.clients.groups(ctx.scope)
    return ctx.respond(GROUPS_ROOT, entities.group_list(found))


async def get_group(ctx: Context) -> Response:
    group_id = entity_id(ctx.params["group_id"], "client group id")
    group = await ctx.services.clients.group(group_id, ctx.scope)
    return ctx.respond(GROUP_ROOT, entities.group_detail(group))


# -- what a client holds --------------------------------------------------------------


async def list_subclients(ctx: Context) -> Response:
    found = await ctx.services.clients.subclients(
        required_id(ctx, "clientId"),
        ctx.scope,
        app_id=optional_id(ctx, "applicationId"),
        backupset_id=optional_id(ctx, "backupsetId"),
        instance_id=optional_id(ctx, "instanceId"),
    )
    return ctx.respond(SUBCLIENTS_ROOT, entities.subclient_list(found))


async def list_backupsets(ctx: Context) -> Response:
    found = await ctx.services.clients.backupsets(
        required_id(ctx, "clientId"),
        ctx.scope,
        app_id=optional_id(ctx, "applicationId"),
        instance_id=optional_id(ctx, "instanceId"),
    )
    return ctx.respond(BACKUPSETS_ROOT, entities.backupset_list(found))


async def list_instances(ctx: Context) -> Response:
    found = await ctx.services.clients.instances(
        required_id(ctx, "clientId"), ctx.scope, app_id=optional_id(ctx, "applicationId")
    )
    return ctx.respond(INSTANCES_ROOT, entities.instance_list(found))


async def list_agents(ctx: Context) -> Response:
    found = await ctx.services.clients.agents(
        required_id(ctx, "clientId"), ctx.scope, app_id=optional_id(ctx, "applicationId")
    )
    return ctx.respond(AGENTS_ROOT, entities.agent_list(found))


async def get_backupset(ctx: Context) -> Response:
    backupset_id = entity_id(ctx.params["backupset_id"], "backup set id")
    found = await ctx.services.clients.backupset(backupset_id, ctx.scope)
    return ctx.respond(BACKUPSETS_ROOT, entities.backupset_detail(found))


async def get_subclient(ctx: Context) -> Response:
    subclient_id = entity_id(ctx.params["subclient_id"], "subclient id")
    found, policy = await ctx.services.clients.subclient(subclient_id, ctx.scope)
    return ctx.respond(SUBCLIENTS_ROOT, entities.subclient_detail(found, policy))


async def list_schedules(ctx: Context) -> Response:
    return ctx.respond(SCHEDULES_ROOT, entities.schedules())


# -- storage policies (not per client: every account sees them) [OURS] -----------------


async def list_policies(ctx: Context) -> Response:
    found = await ctx.services.clients.storage_policies()
    return ctx.respond(POLICIES_ROOT, entities.storage_policy_list(found))


async def list_policies_v2(ctx: Context) -> Response:
    found = await ctx.services.clients.storage_policies()
    return ctx.respond(POLICIES_ROOT, entities.storage_policy_list_v2(found))


async def get_policy(ctx: Context) -> Response:
    policy_id = entity_id(ctx.params["policy_id"], "storage policy id")
    policy = await ctx.services.clients.storage_policy(policy_id)
    return ctx.respond(POLICY_ROOT, entities.storage_policy_detail(policy))


ROUTES: list[Route] = [
    Route("GET", "Client", list_clients, doc=ops.LIST_CLIENTS),
    Route("GET", "Client/{client}", get_client, doc=ops.GET_CLIENT),
    Route("GET", "VSAClientAndClientGroupList", access_nodes, doc=ops.ACCESS_NODES),
    Route("GET", "GetId", get_id, doc=ops.GET_ID),
    Route("GET", "ClientGroup", list_groups, doc=ops.LIST_GROUPS),
    Route("GET", "ClientGroup/{group_id}", get_group, doc=ops.GET_GROUP),
    Route("GET", "Subclient", list_subclients, doc=ops.LIST_SUBCLIENTS),
    Route("GET", "Subclient/{subclient_id}", get_subclient, doc=ops.GET_SUBCLIENT),
    Route("GET", "Agent", list_agents, doc=ops.LIST_AGENTS),
    Route("GET", "Backupset/{backupset_id}", get_backupset, doc=ops.GET_BACKUPSET),
    Route("GET", "Backupset", list_backupsets, doc=ops.LIST_BACKUPSETS),
    Route("GET", "Instance", list_instances, doc=ops.LIST_INSTANCES),
    Route("GET", "Schedules", list_schedules, doc=ops.LIST_SCHEDULES),
    Route("GET", "StoragePolicy", list_policies, doc=ops.LIST_POLICIES),
    Route("GET", "V2/StoragePolicy", list_policies_v2, doc=ops.LIST_POLICIES_V2),
    Route("GET", "StoragePolicy/{policy_id}", get_policy, doc=ops.GET_POLICY),
]
