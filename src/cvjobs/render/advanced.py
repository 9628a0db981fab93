"""AdvancedDetails in one object, as GET Job/{id}/AdvancedDetails answers it: the recorded
sections as they were recorded, and retention (infoType 1) derived from the job's storage
policy when none was recorded."""

from __future__ import annotations

from cvjobs import vocab
from cvjobs.model import AdvancedDetails, Job, JsonObject, StoragePolicy

_RETENTION = vocab.INFO_SECTIONS[vocab.INFO_RETENTION]


def advanced_details(details: AdvancedDetails) -> JsonObject:
    """The sections by name, in the order of the info type table."""
    policy = details.retention_from
    return {
        name: retention(details.job, policy)
        if name == _RETENTION and name not in details.recorded and policy is not None
        else details.recorded[name]
        for name in details.names
    }


def retention(job: Job, policy: StoragePolicy) -> JsonObject:
    """AdvancedDetails infoType 1 from the job's storage policy: how long each copy keeps
    the job. `retainUntil` is 0 while the job has not finished."""
    return {
        "storagePolicyRetentionInfoList": [
            {
                "storagePolicyId": policy.policy.id,
                "storagePolicyName": policy.policy.name,
                "copyRetentionInfoList": [
                    {
                        "storagePolicyCopyId": copy.copy_id,
                        "copyName": copy.name,
                        "isDefaultCopy": copy.is_default,
                        "retentionDays": copy.retention_days,
                        "retainUntil": job.end_time + copy.retention_days * 86400
                        if job.end_time
                        else 0,
                    }
                    for copy in policy.copies
                ],
            }
        ]
    }
