"""Turn stored Defender payload pieces into labelled facts for the templates (no queries).

Devices (contract §5.5) and entities (§5.6) are kept as Microsoft sent them: doc style has every
key with nulls, live style omits nulls, the mailbox type is ``MailBox`` or ``Mailbox``. These
helpers accept both and show only keys that carry a value.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings

from incidents.models import Incident
from incidents.upsert import incident_uri
from sync.models import SyncOutcome
from tenants.models import ConsentState

# Canonical entity type names by lowercase spelling (MailBox/Mailbox compare case-insensitively).
ENTITY_TYPES = {
    "user": "User",
    "ip": "IP address",
    "url": "URL",
    "file": "File",
    "process": "Process",
    "mailbox": "Mailbox",
    "mailmessage": "Mail message",
    "mailcluster": "Mail cluster",
    "registry": "Registry",
    "securitygroup": "Security group",
}
# Keys shown first (in this order) per entity type, with their labels.
ENTITY_KEYS: dict[str, list[tuple[str, str]]] = {
    "user": [
        ("accountName", "Account"),
        ("domainName", "Domain"),
        ("userPrincipalName", "UPN"),
        ("aadUserId", "Entra ID user"),
        ("userSid", "SID"),
    ],
    "mailbox": [
        ("mailboxDisplayName", "Display name"),
        ("mailboxAddress", "Address"),
        ("userPrincipalName", "UPN"),
        ("accountName", "Account"),
    ],
    "ip": [("ipAddress", "IP address")],
    "url": [("url", "URL")],
    "file": [
        ("fileName", "File"),
        ("filePath", "Path"),
        ("sha1", "SHA-1"),
        ("sha256", "SHA-256"),
        ("deviceId", "Device"),
    ],
    "process": [
        ("processId", "PID"),
        ("processCommandLine", "Command line"),
        ("fileName", "File"),
        ("filePath", "Path"),
        ("processCreationTime", "Started"),
        ("parentProcessId", "Parent PID"),
        ("parentProcessCreationTime", "Parent started"),
        ("sha1", "SHA-1"),
        ("sha256", "SHA-256"),
    ],
    "mailmessage": [
        ("subject", "Subject"),
        ("sender", "Sender"),
        ("recipient", "Recipient"),
        ("deliveryAction", "Delivery"),
        ("internetMessageId", "Message ID"),
    ],
    "mailcluster": [
        ("clusterBy", "Clustered by"),
        ("clusterByValue", "Value"),
        ("emailCount", "Mails"),
    ],
    "registry": [
        ("registryHive", "Hive"),
        ("registryKey", "Key"),
        ("registryValueType", "Type"),
        ("registryValue", "Value"),
    ],
    "securitygroup": [("securityGroupName", "Name"), ("securityGroupId", "ID")],
}
_ENTITY_META = {"entityType", "evidenceCreationTime", "verdict", "remediationStatus"}
DEVICE_KEYS = [
    ("deviceDnsName", "Name"),
    ("mdatpDeviceId", "Device ID"),
    ("DeviceId", "Device ID"),
    ("osPlatform", "OS"),
    ("version", "Version"),
    ("osBuild", "Build"),
    ("osProcessor", "CPU"),
    ("healthStatus", "Health"),
    ("riskScore", "Risk"),
    ("rbacGroupName", "Device group"),
    ("aadDeviceId", "Entra ID device"),
    ("onboardingStatus", "Onboarding"),
    ("defenderAvStatus", "Antivirus"),
    ("firstSeen", "First seen"),
]


@dataclass
class Facts:
    """A titled list of (label, value) pairs, e.g. one entity or one device."""

    kind: str
    title: str
    facts: list[tuple[str, str]]
    verdict: str = ""
    remediation: str = ""


def _present(value: Any) -> bool:
    return value not in (None, "", [], {})


def _text(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


def entity_facts(entity: dict[str, Any]) -> Facts:
    """Labelled facts of one §5.6 entity, known keys first, then any other non-null keys."""
    raw_type = str(entity.get("entityType") or "Unknown")
    kind = raw_type.lower()
    known = ENTITY_KEYS.get(kind, [])
    facts = [(label, _text(entity[key])) for key, label in known if _present(entity.get(key))]
    used = {key for key, _ in known} | _ENTITY_META
    facts += [
        (key, _text(value))
        for key, value in entity.items()
        if key not in used and _present(value) and not isinstance(value, dict)
    ]
    title = facts[0][1] if facts else raw_type
    return Facts(
        kind=ENTITY_TYPES.get(kind, raw_type),
        title=title,
        facts=facts,
        verdict=str(entity.get("verdict") or ""),
        remediation=str(entity.get("remediationStatus") or ""),
    )


def device_facts(device: dict[str, Any]) -> Facts:
    """Labelled facts of one §5.5 device (``mdatpDeviceId`` or ``DeviceId``)."""
    facts = [(label, _text(device[key])) for key, label in DEVICE_KEYS if _present(device.get(key))]
    if _present(device.get("tags")):
        facts.append(("Tags", _text(device["tags"])))
    title = str(
        device.get("deviceDnsName")
        or device.get("mdatpDeviceId")
        or device.get("DeviceId")
        or "Device"
    )
    return Facts(
        kind="Device", title=title, facts=facts[1:] if device.get("deviceDnsName") else facts
    )


def comment_items(comments: Any) -> list[dict[str, str]]:
    """Incident comments (§5.3: ``comment``, ``createdBy``, ``createdTime``; the docs' resource
    page says ``createTime``) as ``{"text", "by", "at"}``; non-dict items are skipped."""
    items = []
    for c in comments if isinstance(comments, list) else []:
        if isinstance(c, dict):
            items.append(
                {
                    "text": str(c.get("comment") or ""),
                    "by": str(c.get("createdBy") or "unknown"),
                    "at": str(c.get("createdTime") or c.get("createTime") or ""),
                }
            )
    return items


def _is_portal_link(uri: str) -> bool:
    """True if ``uri`` is an https link to the host of DEFENDER_PORTAL_URL (same port, no user
    info, nothing a browser could read differently from ``urlsplit``: only printable ASCII
    without spaces or backslashes)."""
    if not (uri.isascii() and uri.isprintable()) or " " in uri or "\\" in uri:
        return False
    portal = urlsplit(settings.DEFENDER_PORTAL_URL)
    try:
        link = urlsplit(uri)
        port, portal_port = link.port, portal.port
    except ValueError:
        return False
    return (
        link.scheme == "https"
        and link.username is None
        and link.password is None
        and link.hostname is not None
        and link.hostname == portal.hostname
        and (port or 443) == (portal_port or 443)
    )


def defender_url(incident: Incident) -> str:
    """The incident in the Defender portal (contract §5.3, §5.7): ``incidentUri`` as stored,
    if it is an https link to DEFENDER_PORTAL_URL's host; else (absent, or a ``javascript:`` or
    off-site URI, which must never become a link) the link built from DEFENDER_PORTAL_URL, the
    incident ID and the customer's tenant ID by ``incidents.upsert.incident_uri``."""
    if incident.incident_uri and _is_portal_link(incident.incident_uri):
        return incident.incident_uri
    tenant_id = getattr(incident.customer, "tenant_id", None)
    url = incident_uri(tenant_id=str(tenant_id or ""), incident_id=incident.incident_id)
    # Customer.tenant_id is nullable: without one the link names no tenant (no ``tid=``).
    return url if tenant_id else url.partition("?")[0]


CONSENT_EXPLANATIONS = {
    ConsentState.PENDING: "Waiting for the customer's administrator to grant admin consent.",
    ConsentState.CONNECTED: "",
    ConsentState.MISSING_PERMISSIONS: (
        "Admin consent was given, but the app lacks {roles}; the customer's administrator must "
        "grant consent again."
    ),
    ConsentState.CONSENT_REVOKED: (
        "The customer's administrator removed the portal's access; incidents are no longer "
        "synced until consent is granted again."
    ),
    ConsentState.ERROR: "The last connection check failed.",
    ConsentState.OFFBOARDED: "Offboarded: no longer synced.",
}


def consent_problem_text(consent_state: str, missing_roles: list[str] | None) -> str:
    """The consent state as a sentence for the tenant overview ("" when connected): from a
    ConsentState value and, for missing permissions, the missing app roles it names."""
    template = CONSENT_EXPLANATIONS.get(consent_state, "")  # type: ignore[call-overload]
    if consent_state == ConsentState.MISSING_PERMISSIONS:
        roles = ", ".join(missing_roles or []) or "a required permission"
        return str(template).format(roles=roles)
    return str(template)


def consent_label(consent_state: str) -> str:
    """Human label of a ConsentState value (unknown values unchanged)."""
    try:
        return str(ConsentState(consent_state).label)
    except ValueError:
        return consent_state


def outcome_label(outcome: str) -> str:
    """Human label of a SyncOutcome value ("" → "Never synced")."""
    if not outcome:
        return "Never synced"
    try:
        return str(SyncOutcome(outcome).label)
    except ValueError:
        return outcome
