"""Entity shapes: clients, client groups, instances, backup sets, subclients and storage
policies as JSON-shaped dicts, one source for both formats (like `shapes`).

Each shape carries what the clients read (cvpysdk, the PowerShell SDK, the PHP library,
the Morpheus plugin, a Zabbix discovery; see the README's "Entities"). The catalogue keeps
only ids, names and memberships, so the rest is fixed [OURS]: a client's host and display
names are its name, its GUID is derived from its id, it listens on port 8400, runs an
"Unknown" OS in UTC with every activity enabled, at the CommCell's service pack.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from cvjobs.model import ClientGroupInfo, ClientInfo, EntityPath, JsonObject, Ref, StoragePolicy

CVD_PORT = 8400
# The vendor's _type_ of a client entity (3), a client group (28), a subclient (7).
CLIENT_TYPE, GROUP_TYPE, SUBCLIENT_TYPE = 3, 28, 7
# Activity types of clientActivityControl: backup, restore, data aging.
ACTIVITIES = (1, 2, 16)
_GUIDS = uuid.UUID("5e0c2f6a-4a55-4b6e-9d6c-6376a6f62a10")  # [OURS]: any fixed namespace


def client_guid(client_id: int) -> str:
    """A stable GUID per client id, upper case as the vendor spells GUIDs [OURS]."""
    return str(uuid.uuid5(_GUIDS, f"client:{client_id}")).upper()


def client_entity(client: Ref) -> JsonObject:
    return {
        "clientId": client.id,
        "clientName": client.name,
        "hostName": client.name,
        "displayName": client.name,
        "clientGUID": client_guid(client.id),
        "_type_": CLIENT_TYPE,
    }


def _groups(groups: Iterable[Ref]) -> list[JsonObject]:
    return [{"clientGroupId": g.id, "clientGroupName": g.name} for g in groups]


def _listed_client(info: ClientInfo) -> JsonObject:
    return {
        "client": {
            "clientEntity": client_entity(info.client),
            "cvdPort": CVD_PORT,
            "displayName": info.client.name,
        },
        "clientGroups": _groups(info.groups),
    }


def client_list(clients: Iterable[ClientInfo]) -> JsonObject:
    """GET Client (also ?hiddenclients=true): every item has client.clientEntity with
    clientId, clientName, hostName, displayName, clientGUID and _type_, and client.cvdPort
    (cvpysdk and the PowerShell SDK under StrictMode read them all)."""
    return {"clientProperties": [_listed_client(c) for c in clients]}


def pseudo_clients() -> JsonObject:
    """GET Client?PseudoClientType=VSPseudo: the catalogue keeps no virtualization
    clients."""
    return {"VSPseudoClientsList": []}


def access_nodes() -> JsonObject:
    """GET VSAClientAndClientGroupList (cvpysdk's commcell.clients reads it): none."""
    return {"clients": []}


def schedules() -> JsonObject:
    """GET Schedules (cvpysdk's Backupset and Subclient objects read them as they are
    built): the catalogue keeps no schedules [OURS]."""
    return {"taskDetail": []}


def client_detail(info: ClientInfo, service_pack: int) -> JsonObject:
    """GET Client/{id}: what cvpysdk's Client object requires (osInfo, cvdPort,
    clientProps activity control, TimeZone, versionInfo) and the PowerShell SDK and PHP
    library read (versionInfo.version, GalaxyRelease.ReleaseString) [OURS values]."""
    item = _listed_client(info)
    item["client"] |= {
        "osInfo": {
            "Type": "Unknown",
            "SubType": "Unknown",
            "OsDisplayInfo": {"ProcessorType": "Unknown", "OSName": "Unknown"},
        },
        "TimeZone": {"TimeZoneName": "(UTC) Coordinated Universal Time"},
        "versionInfo": {
            "version": f"ServicePack:{service_pack}",
            "GalaxyRelease": {"ReleaseString": f"11.{service_pack}"},
        },
    }
    item["clientProps"] = {
        "activityControl": {
            "EnableDataRecovery": True,
            "EnableDataManagement": True,
            "EnableOnlineContentIndex": False,
        },
        "clientActivityControl": {
            "activityControlOptions": [
                {"activityType": kind, "enableActivityType": True} for kind in ACTIVITIES
            ]
        },
        "EnableSnapBackups": False,
    }
    return {"clientProperties": [item]}


def group_list(groups: Iterable[ClientGroupInfo]) -> JsonObject:
    """GET ClientGroup: `groups` always present (cvpysdk raises without it); each with
    `Id` (cvpysdk, PHP) and `id` [OURS, for case-sensitive readers], `name`, and the
    clientGroup entity."""
    return {
        "groups": [
            {
                "Id": g.group.id,
                "id": g.group.id,
                "name": g.group.name,
                "clientGroup": {
                    "clientGroupId": g.group.id,
                    "clientGroupName": g.group.name,
                    "_type_": GROUP_TYPE,
                },
            }
            for g in groups
        ]
    }


def group_detail(group: ClientGroupInfo) -> JsonObject:
    """GET ClientGroup/{id} (XML root App_PerformClientGroupResp, as a Zabbix discovery
    reads it): the group, never smart, and its members."""
    return {
        "clientGroupDetail": {
            "clientGroup": {
                "clientGroupId": group.group.id,
                "clientGroupName": group.group.name,
            },
            "isSmartClientGroup": False,
            "description": "",
            "associatedClients": [
                {"clientId": m.client.id, "clientName": m.client.name, "hostName": m.client.name}
                for m in group.members
            ],
        }
    }


def _path_entity(path: EntityPath) -> JsonObject:
    return {
        "clientId": path.client.id,
        "clientName": path.client.name,
        "applicationId": path.app.id,
        "appName": path.app.name,
        "instanceId": path.instance.id,
        "instanceName": path.instance.name,
    }


def subclient_list(paths: Iterable[EntityPath]) -> JsonObject:
    """GET Subclient?clientId= (XML root App_GetSubClientPropertiesResponse): each
    subClientEntity with its whole path (cvpysdk filters on the names, the Morpheus plugin
    and the PowerShell SDK read the ids), and commonProperties (cvpysdk reads
    isDefaultSubclient: the subclient named "default" [OURS])."""
    return {
        "subClientProperties": [
            {
                "subClientEntity": _path_entity(p)
                | {
                    "backupsetId": p.backupset.id,
                    "backupsetName": p.backupset.name,
                    "subclientId": p.subclient.id,
                    "subclientName": p.subclient.name,
                    "subclientGUID": str(uuid.uuid5(_GUIDS, f"subclient:{p.subclient.id}")).upper(),
                    "_type_": SUBCLIENT_TYPE,
                },
                "commonProperties": {"isDefaultSubclient": p.subclient.name.lower() == "default"},
            }
            for p in paths
        ]
    }


def subclient_detail(path: EntityPath, policy: Ref) -> JsonObject:
    """GET Subclient/{id}: the list shape of one subclient (cvpysdk reads
    subClientProperties[0]), with the storage policy of its newest job as its data
    policy (the Morpheus plugin reads commonProperties.storageDevice
    .dataBackupStoragePolicy) [OURS: the catalogue keeps no subclient settings]."""
    body = subclient_list([path])
    common = body["subClientProperties"][0]["commonProperties"]
    common["storageDevice"] = {
        "dataBackupStoragePolicy": {
            "storagePolicyId": policy.id,
            "storagePolicyName": policy.name,
        }
    }
    return body


def agent_list(paths: Iterable[EntityPath]) -> JsonObject:
    """GET Agent?clientId=: agentProperties[].idaEntity (cvpysdk reads appName and
    applicationId) and idaActivityControl (every activity enabled [OURS])."""
    return {
        "agentProperties": [
            {
                "idaEntity": {
                    "clientId": p.client.id,
                    "clientName": p.client.name,
                    "applicationId": p.app.id,
                    "appName": p.app.name,
                },
                "idaActivityControl": {
                    "activityControlOptions": [
                        {"activityType": kind, "enableActivityType": True} for kind in ACTIVITIES
                    ]
                },
            }
            for p in paths
        ]
    }


def backupset_detail(path: EntityPath) -> JsonObject:
    """GET Backupset/{id}: the list shape of one, with the planEntity cvpysdk's
    Backupset object requires (empty: no plan) and commonBackupSet's onDemandBackupset
    and userDescription."""
    body = backupset_list([path])
    item = body["backupsetProperties"][0]
    item["commonBackupSet"] |= {"onDemandBackupset": False, "userDescription": ""}
    item["planEntity"] = {}
    return body


def backupset_list(paths: Iterable[EntityPath]) -> JsonObject:
    """GET Backupset?clientId=: backupSetEntity and commonBackupSet (cvpysdk reads
    isDefaultBackupSet: the backup set named defaultBackupSet [OURS])."""
    return {
        "backupsetProperties": [
            {
                "backupSetEntity": _path_entity(p)
                | {"backupsetId": p.backupset.id, "backupsetName": p.backupset.name},
                "commonBackupSet": {
                    "isDefaultBackupSet": p.backupset.name.lower() == "defaultbackupset"
                },
            }
            for p in paths
        ]
    }


def instance_list(paths: Iterable[EntityPath]) -> JsonObject:
    """GET Instance?clientId=: instanceProperties[].instance (cvpysdk reads appName,
    instanceName, instanceId)."""
    return {"instanceProperties": [{"instance": _path_entity(p)} for p in paths]}


def storage_policy_list(policies: Iterable[StoragePolicy]) -> JsonObject:
    """GET StoragePolicy: flat items, as cvpysdk, the Morpheus plugin and the PHP library
    read them."""
    return {
        "policies": [
            {"storagePolicyName": p.policy.name, "storagePolicyId": p.policy.id} for p in policies
        ]
    }


def storage_policy_list_v2(policies: Iterable[StoragePolicy]) -> JsonObject:
    """GET V2/StoragePolicy: items nested under storagePolicy, as the PowerShell SDK
    reads them."""
    return {
        "policies": [
            {
                "storagePolicy": {
                    "storagePolicyName": p.policy.name,
                    "storagePolicyId": p.policy.id,
                },
                "numberOfCopies": len(p.copies),
            }
            for p in policies
        ]
    }


def storage_policy_detail(policy: StoragePolicy) -> JsonObject:
    """GET StoragePolicy/{id}: the policy (the PowerShell SDK checks `storagePolicy`) and
    its copies (the Morpheus plugin reads `copy[0]`) [OURS beyond those keys]."""
    return {
        "storagePolicy": {
            "storagePolicyName": policy.policy.name,
            "storagePolicyId": policy.policy.id,
        },
        "copy": [
            {
                "StoragePolicyCopy": {
                    "copyId": c.copy_id,
                    "copyName": c.name,
                    "storagePolicyId": policy.policy.id,
                    "storagePolicyName": policy.policy.name,
                },
                "isDefault": c.is_default,
                "retentionRules": {"retainBackupDataForDays": c.retention_days},
            }
            for c in policy.copies
        ],
    }
