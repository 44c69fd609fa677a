"""Materialise an `IncidentRecord` into the wire JSON of §5.3-§5.6 in either payload style.

doc style: every entity key present (31 keys, `null` where empty, `MailBox`), no `incidentUri`.
live style: entity nulls omitted, `incidentUri`, `providerAlertId`, `detectorId`, entity
`evidenceCreationTime`/`verdict`/`remediationStatus` and the live extras, device extras.
Incident and alert nulls stay in both styles. Everything is derived from the record's seed.
"""

from __future__ import annotations

import random
import uuid
from typing import Any

from .catalog import (
    CATEGORY_LABELS,
    COMMAND_LINES,
    EXTERNAL_SENDERS,
    MAIL_SUBJECTS,
    PRODUCTS,
    REGISTRY_KEYS,
    REMEDIATION,
    SCENARIOS,
    SECURITY_GROUPS,
    URLS,
    VERDICTS,
    Scenario,
)
from .datagen import IncidentRecord, TenantPools, alert_plan
from .directory import det_uuid
from .timeutil import TICKS_PER_HOUR, TICKS_PER_MINUTE, TICKS_PER_SECOND, format_ticks

#: Entity keys in the fixed doc-style order of §5.9.
DOC_ENTITY_KEYS = (
    "entityType", "sha1", "sha256", "fileName", "filePath", "processId", "processCommandLine",
    "processCreationTime", "parentProcessId", "parentProcessCreationTime", "ipAddress", "url",
    "accountName", "domainName", "userSid", "aadUserId", "userPrincipalName",
    "mailboxDisplayName", "mailboxAddress", "clusterBy", "sender", "recipient", "subject",
    "deliveryAction", "securityGroupId", "securityGroupName", "registryHive", "registryKey",
    "registryValueType", "registryValue", "deviceId",
)  # fmt: skip
_DOC_TEMPLATE: dict[str, Any] = dict.fromkeys(DOC_ENTITY_KEYS)
_SEVERITY_RANK = {"UnSpecified": 0, "Informational": 1, "Low": 2, "Medium": 3, "High": 4}
_SEVERITIES = tuple(_SEVERITY_RANK)
_NET_TICKS_AT_UNIX_EPOCH = 621_355_968_000_000_000
_DETECTOR_IDS = {s.title: det_uuid("detector", s.title) for s in SCENARIOS}
_RUNNING_STATES = ("Running", "PendingApproval", "Queued", "Benign")
_ALERT_STATUS = {"Resolved": "Resolved", "InProgress": "InProgress"}


def incident_name(rec: IncidentRecord, plan: list[int]) -> str:
    """Defender-style incident name from the alert plan (one alert vs multi-stage)."""
    scenarios = [SCENARIOS[i] for i in plan]
    first = scenarios[0]
    where = "on one endpoint" if first.device else "involving one user"
    if len(scenarios) == 1:
        return f"{first.title} {where}"
    if any(s.device for s in scenarios[1:]) and first.device and len(scenarios) > 3:
        where = "on multiple endpoints"
    elif not first.device and len(scenarios) > 2:
        where = "involving multiple users"
    cats: list[str] = []
    for s in scenarios:
        label = CATEGORY_LABELS.get(s.category, s.category)
        if label not in cats:
            cats.append(label)
    if len(cats) == 1:
        return f"{first.title} {where}"
    return f"Multi-stage incident involving {cats[0]} & {cats[1]} {where}"


def _entity(
    kind: str,
    rng: random.Random,
    pools: TenantPools,
    device_id: str | None,
    first_activity: int,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(doc fields, live fields) for one entity of type `kind` (§5.6), both in doc key order.

    Live fields add the live-only extras; null values are left for the caller to drop.
    """
    user = rng.choice(pools.users)
    f: dict[str, Any]
    if kind in ("File", "Process"):
        info = rng.choice(pools.files)
        f = {
            "sha1": info.sha1,
            "sha256": info.sha256,
            "fileName": info.name,
            "filePath": info.folder.format(user=user.account),
        }
        if kind == "Process":
            f["processId"] = rng.randint(400, 30000)
            f["processCommandLine"] = rng.choice(COMMAND_LINES)
            f["processCreationTime"] = format_ticks(first_activity)
            f["parentProcessId"] = rng.randint(400, 30000)
            f["parentProcessCreationTime"] = format_ticks(
                first_activity - rng.randint(1, 3600) * TICKS_PER_SECOND
            )
        f["deviceId"] = device_id
        return f, f
    if kind == "Ip":
        f = {
            "ipAddress": rng.choice(pools.public_ips if rng.random() < 0.7 else pools.internal_ips)
        }
        return f, f
    if kind == "Url":
        f = {"url": rng.choice(URLS)}
        return f, f
    if kind == "User":
        f = {
            "accountName": user.account,
            "domainName": pools.domain.split(".")[0].upper(),
            "userSid": user.sid,
            "aadUserId": user.aad_id,
            "userPrincipalName": user.upn,
        }
        return f, f
    if kind == "Mailbox":
        f = {
            "userPrincipalName": user.upn,
            "mailboxDisplayName": user.display,
            "mailboxAddress": user.upn,
        }
        return f, {"accountName": user.account, "aadUserId": user.aad_id, **f}
    if kind == "MailMessage":
        f = {
            "userPrincipalName": user.upn,
            "sender": rng.choice(EXTERNAL_SENDERS),
            "recipient": user.upn,
            "subject": rng.choice(MAIL_SUBJECTS),
            "deliveryAction": rng.choice(("Delivered", "Junked", "Blocked")),
        }
        message_id = f"<{uuid.UUID(int=rng.getrandbits(128))}@mail.example>"
        return f, {**f, "internetMessageId": message_id}
    if kind == "MailCluster":
        sender, subject = rng.choice(EXTERNAL_SENDERS), rng.choice(MAIL_SUBJECTS)
        f = {"clusterBy": "Sender;Subject"}
        live = {**f, "clusterByValue": f"{sender};{subject}", "emailCount": rng.randint(2, 60)}
        return f, live
    if kind == "SecurityGroup":
        name = rng.choice(SECURITY_GROUPS)
        f = {"securityGroupId": det_uuid(pools.tenant_id, "group", name), "securityGroupName": name}
        return f, f
    f = {
        "registryHive": "HKEY_CURRENT_USER",
        "registryKey": rng.choice(REGISTRY_KEYS),
        "registryValueType": "String",
        "registryValue": r"C:\ProgramData\Updater\upd.exe",
    }
    return f, f


def _alert(
    rec: IncidentRecord, idx: int, scenario: Scenario, pools: TenantPools, live: bool
) -> dict[str, Any]:
    """One alert (§5.4). The random draws never depend on the incident's mutable state, so a
    status change or a new alert leaves the other content of every alert unchanged."""
    rng = random.Random(rec.seed * 128 + idx)
    prod = PRODUCTS[scenario.product]
    r_sev, r_created, r_jitter = (
        rng.random(),
        rng.randint(0, 15 * TICKS_PER_MINUTE),
        rng.randrange(3 * TICKS_PER_SECOND),
    )
    r_first, r_first_frac = rng.randint(1, 40) * TICKS_PER_MINUTE, rng.randrange(TICKS_PER_SECOND)
    r_last, r_update = rng.randrange(10 * TICKS_PER_MINUTE), rng.randrange(3 * TICKS_PER_HOUR)
    guid = uuid.UUID(int=rng.getrandbits(128), version=4)
    r_da, r_inv, r_state = rng.randrange(10**9, 2**31), rng.randint(1000, 99999), rng.random()
    r_auto, r_evidence = rng.random(), rng.randrange(TICKS_PER_SECOND)
    if idx < rec.alert_count:
        creation = min(rec.created + idx * r_created + r_jitter, max(rec.base_updated, rec.created))
    else:
        creation = (rec.added_alerts or [rec.updated])[idx - rec.alert_count]
    first_act = creation - r_first - r_first_frac
    last_act = min(first_act + r_last, creation)
    if rec.status == "Resolved" or rec.version:
        updated = max(rec.updated, creation)
    else:
        updated = max(creation, min(rec.updated, creation + r_update))
    if prod.prefix == "da":
        alert_id = f"da{creation + _NET_TICKS_AT_UNIX_EPOCH}_{r_da}"
        provider_id = alert_id
    else:
        alert_id = prod.prefix + (str(guid).upper() if prod.prefix == "ca" else str(guid))
        provider_id = str(guid)
    resolved = rec.status == "Resolved"
    investigation_id: int | None = None
    state = "UnsupportedAlertType"
    if scenario.product == "mde":
        investigation_id = r_inv
        state = "SuccessfullyRemediated" if resolved else _RUNNING_STATES[int(r_state * 4)]
    rank = _SEVERITY_RANK[scenario.severity] + (1 if r_sev < 0.1 else -1 if r_sev > 0.9 else 0)
    classified = rec.classification != "Unknown"
    updated_text = format_ticks(updated)
    alert: dict[str, Any] = {"alertId": alert_id}
    if live:
        alert["providerAlertId"] = provider_id
    alert["incidentId"] = rec.incident_id
    alert["serviceSource"] = prod.live_source if live else prod.doc_source
    alert["creationTime"] = format_ticks(creation)
    alert["lastUpdatedTime"] = updated_text
    alert["resolvedTime"] = updated_text if resolved else None
    alert["firstActivity"] = format_ticks(first_act)
    alert["lastActivity"] = format_ticks(last_act)
    alert["title"] = scenario.title
    alert["description"] = f"{scenario.title}. Review the affected assets and the evidence listed."
    alert["category"] = scenario.category
    alert["status"] = _ALERT_STATUS.get(rec.status, "New")
    alert["severity"] = _SEVERITIES[min(max(rank, 1), 4)]
    alert["investigationId"] = investigation_id
    alert["investigationState"] = state
    alert["classification"] = rec.classification if classified else None
    alert["determination"] = rec.determination if classified else None
    alert["detectionSource"] = scenario.detection_source
    if live:
        alert["detectorId"] = _DETECTOR_IDS[scenario.title]
    automation = "Automation" if investigation_id and r_auto < 0.3 else None
    alert["assignedTo"] = rec.assigned_to or automation
    alert["actorName"] = None
    alert["threatFamilyName"] = scenario.threat_family
    alert["mitreTechniques"] = list(scenario.mitre)
    devices: list[dict[str, Any]] = []
    if scenario.device:
        for _ in range(1 if rng.random() < 0.85 else 2):
            pair = rng.choice(pools.devices)
            devices.append(pair[1] if live else pair[0])
    alert["devices"] = devices
    device_id = devices[0]["mdatpDeviceId"] if devices else None
    evidence_time = format_ticks(creation + r_evidence)
    entities = []
    for kind in scenario.entities:
        doc_fields, live_fields = _entity(kind, rng, pools, device_id, first_act)
        verdict, remediation = rng.choice(VERDICTS), rng.choice(REMEDIATION)
        if live:
            ent: dict[str, Any] = {
                "entityType": kind,
                "evidenceCreationTime": evidence_time,
                "verdict": verdict,
                "remediationStatus": remediation,
            }
            for key, value in live_fields.items():
                if value is not None:
                    ent[key] = value
        else:
            ent = dict(_DOC_TEMPLATE)
            ent["entityType"] = "MailBox" if kind == "Mailbox" else kind
            ent.update(doc_fields)
        entities.append(ent)
    alert["entities"] = entities
    return alert


def render_incident(rec: IncidentRecord, pools: TenantPools, live: bool) -> dict[str, Any]:
    """The incident dict in wire key order (§5.3), alerts embedded (none when Redirected).

    Severity is the highest alert severity (a Redirected incident keeps its first alert's)."""
    total = rec.total_alerts()
    plan = alert_plan(rec, max(total, 1))
    alerts = [_alert(rec, i, SCENARIOS[plan[i]], pools, live) for i in range(total)]
    if alerts:
        severity = max((a["severity"] for a in alerts), key=_SEVERITY_RANK.__getitem__)
    else:
        severity = SCENARIOS[plan[0]].severity
    inc: dict[str, Any] = {"incidentId": rec.incident_id}
    if live:
        inc["incidentUri"] = (
            f"https://security.microsoft.com/incidents/{rec.incident_id}?tid={pools.tenant_id}"
        )
    inc["redirectIncidentId"] = rec.redirect_id
    inc["incidentName"] = rec.name or incident_name(rec, plan[: max(rec.alert_count, 1)])
    inc["createdTime"] = format_ticks(rec.created)
    inc["lastUpdateTime"] = format_ticks(rec.updated)
    inc["assignedTo"] = rec.assigned_to
    inc["classification"] = rec.classification
    inc["determination"] = rec.determination
    inc["status"] = rec.status
    inc["severity"] = rec.severity or severity
    inc["tags"] = list(rec.tags or ())
    inc["comments"] = [
        {"comment": text, "createdBy": by, "createdTime": format_ticks(ticks)}
        for text, by, ticks in rec.comments or ()
    ]
    inc["alerts"] = [] if rec.status == "Redirected" else alerts
    return inc
