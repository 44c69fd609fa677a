"""Validation of Defender XDR incident list pages (contract §5.1–§5.7) before anything is stored.

``parse_incident_page(value, tenant_id=...)`` checks a whole page and returns ``ParsedIncident``
objects ready for ``incidents.upsert``; the first problem raises ``PayloadError`` naming the
JSON path (``value[3].alerts[0].severity``), so the sync can reject the page without storing any
of it.

Rules:

* **Required** keys: incident ``incidentId`` (integer), ``incidentName`` (string),
  ``createdTime`` and ``lastUpdateTime`` (ISO 8601 DateTimeOffset strings), ``status`` and
  ``severity``; alert ``alertId`` (string), ``severity`` and ``status``; entity ``entityType``.
  Every other documented key is optional (live payloads omit null keys, §5.6/§5.7) but, when
  present and not null, must have its documented type. A missing required key, or a value of the
  wrong JSON type, is an error.
* **Closed enums** are validated: incident ``severity``, ``status``, ``classification``,
  ``determination``; alert ``severity``, ``status`` (and its ``classification`` /
  ``determination`` when not null). A value outside the documented set is an error, unless
  the sync runs with SYNC_ACCEPT_UNKNOWN_ENUMS (``strict_enums=False``): then it is stored as
  sent and logged, for when Microsoft adds a value before the portal knows it (§5.7). Matching is
  case-insensitive; documented alternate spellings are accepted and kept as sent: determination
  ``CompromisedAccount``/``CompromisedUser``, ``ConfirmedActivity``/``ConfirmedUserActivity``,
  ``NoEnoughDataToValidate``/``InsufficientData`` (§6), the deprecated ``Apt`` and
  ``SecurityPersonnel`` (§5.3), alert status ``Active`` (§5.4) and ``Unknown`` (§8). A value
  differing from a documented one only by case is stored with the documented casing; the raw
  payload keeps what Microsoft sent.
* **Open sets** are stored as strings without checks: ``serviceSource``, ``detectionSource``,
  ``category``, ``investigationState``, ``entityType`` (``MailBox``/``Mailbox`` both fine), device
  fields. Doc style (all keys, nulls) and live style (null keys omitted, extra keys, device ID as
  ``DeviceId`` or ``mdatpDeviceId``) both parse (§5.7).
* **Unknown extra keys** are kept: ``raw`` is the incident as received minus ``alerts``, and each
  alert's ``raw`` is the alert as received minus ``devices`` and ``entities`` (stored in their own
  columns exactly as received), so nothing Microsoft sends is lost.
* **Tenant**: an ``incidentUri`` carrying ``tid=`` and an alert ``aadTenantId`` must name the
  tenant the page was requested for; otherwise the data is taken to come from the token's tenant.
* **Size**: a page with more rows than ``max_rows`` ($top, at most 100, §5.1) is oversized.

Display strings longer than their column are truncated (the raw payload keeps them whole);
identifiers that do not fit are errors.

Typed reading and the path-naming errors are in ``incidents.payload``; the validated objects
(``ParsedIncident``, ``ParsedAlert``) and their search text in ``incidents.parsed``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

from incidents.parsed import SEARCH_ENTITY_KEYS, ParsedAlert, ParsedIncident
from incidents.payload import PayloadError, Reader, type_name

__all__ = ["ParsedAlert", "ParsedIncident", "PayloadError", "parse_incident", "parse_incident_page"]

# Characters of incidentUri the incident_uri column holds; a longer one is rebuilt.
MAX_INCIDENT_URI = 500

# Documented values of closed enums (contract §5.3, §5.4, §6, §8), canonical spelling.
SEVERITIES = ("UnSpecified", "Informational", "Low", "Medium", "High")
INCIDENT_STATUSES = ("Active", "InProgress", "Resolved", "Redirected")
ALERT_STATUSES = ("New", "InProgress", "Resolved", "Active", "Unknown")
CLASSIFICATIONS = ("Unknown", "TruePositive", "FalsePositive", "InformationalExpectedActivity")
DETERMINATIONS = (
    "NotAvailable",
    "Apt",
    "Malware",
    "SecurityPersonnel",
    "SecurityTesting",
    "UnwantedSoftware",
    "Other",
    "MultiStagedAttack",
    "MaliciousUserActivity",
    "CompromisedUser",
    "CompromisedAccount",
    "Phishing",
    "LineOfBusinessApplication",
    "ConfirmedUserActivity",
    "ConfirmedActivity",
    "Clean",
    "InsufficientData",
    "NoEnoughDataToValidate",
)


def _canonical(values: tuple[str, ...]) -> dict[str, str]:
    return {v.lower(): v for v in values}


_SEVERITY = _canonical(SEVERITIES)
_INCIDENT_STATUS = _canonical(INCIDENT_STATUSES)
_ALERT_STATUS = _canonical(ALERT_STATUSES)
_CLASSIFICATION = _canonical(CLASSIFICATIONS)
_DETERMINATION = _canonical(DETERMINATIONS)


def _check_tenant(tid: str, expected: str, path: str) -> None:
    if tid.strip().lower() != expected:
        raise PayloadError(
            f"belongs to tenant {tid[:40]!r}, not {expected}", path=path, code="wrong_tenant"
        )


def _parse_alert(obj: Any, path: str, tenant_id: str, strict_enums: bool) -> ParsedAlert:
    r = Reader(obj, path, strict_enums=strict_enums)
    alert_id = r.text("alertId", required=True, max_length=200, truncate=False)
    if not alert_id:
        raise PayloadError("required field is empty", path=f"{path}.alertId")
    aad_tenant = r.text("aadTenantId")
    if aad_tenant:
        _check_tenant(aad_tenant, tenant_id, f"{path}.aadTenantId")
    devices = r.objects("devices")
    entities = r.objects("entities")
    mitre = r.array("mitreTechniques")
    for index, technique in enumerate(mitre):
        if not isinstance(technique, str):
            raise PayloadError(
                f"expected a string, got {type_name(technique)}",
                path=f"{path}.mitreTechniques[{index}]",
            )
    title = r.text("title", max_length=500)
    terms = [title]
    for index, entity in enumerate(entities):
        if not isinstance(entity.get("entityType"), str):
            Reader(entity, f"{path}.entities[{index}]").text("entityType", required=True)
        for key in SEARCH_ENTITY_KEYS:
            value = entity.get(key)
            if value and isinstance(value, str):
                terms.append(value)
    for device in devices:
        name = device.get("deviceDnsName")
        if isinstance(name, str) and name:
            terms.append(name)
    raw = {k: v for k, v in obj.items() if k not in ("devices", "entities")}
    return ParsedAlert(
        alert_id=alert_id,
        incident_id=r.integer("incidentId"),
        title=title,
        description=r.text("description"),
        severity=r.enum("severity", _SEVERITY, required=True),
        status=r.enum("status", _ALERT_STATUS, required=True),
        category=r.text("category", max_length=100),
        service_source=r.text("serviceSource", max_length=100),
        detection_source=r.text("detectionSource", max_length=100),
        classification=r.enum("classification", _CLASSIFICATION, max_length=40),
        determination=r.enum("determination", _DETERMINATION, max_length=40),
        assigned_to=r.text("assignedTo", max_length=320),
        mitre_techniques=mitre,
        creation_time=r.moment("creationTime"),
        last_updated_time=r.moment("lastUpdatedTime"),
        first_activity=r.moment("firstActivity"),
        last_activity=r.moment("lastActivity"),
        resolved_time=r.moment("resolvedTime"),
        devices=devices,
        entities=entities,
        raw=raw,
        search_terms=terms,
    )


def parse_incident(
    obj: Any, *, tenant_id: str, path: str = "incident", strict_enums: bool = True
) -> ParsedIncident:
    """Validate one incident object (§5.3) and its alerts. Raises PayloadError.

    ``strict_enums=False`` stores unknown closed-enum values as sent (logged) instead of
    rejecting them (setting SYNC_ACCEPT_UNKNOWN_ENUMS)."""
    r = Reader(obj, path, strict_enums=strict_enums)
    incident_id = r.integer("incidentId", required=True)
    assert incident_id is not None
    uri = r.text("incidentUri")
    if uri and not uri.lower().endswith(f"?tid={tenant_id}"):  # the live form, checked fast
        tids = parse_qs(urlsplit(uri).query).get("tid")
        if tids:
            _check_tenant(tids[0], tenant_id, f"{path}.incidentUri")
    if len(uri) > MAX_INCIDENT_URI:
        uri = ""  # rebuilt from DEFENDER_PORTAL_URL; raw keeps the original
    tags = r.array("tags")
    comments = r.array("comments")
    alerts = [
        _parse_alert(item, f"{path}.alerts[{index}]", tenant_id, strict_enums)
        for index, item in enumerate(r.array("alerts"))
    ]
    created = r.moment("createdTime", required=True)
    updated = r.moment("lastUpdateTime", required=True)
    assert created is not None and updated is not None
    return ParsedIncident(
        incident_id=incident_id,
        incident_uri=uri,
        redirect_incident_id=r.integer("redirectIncidentId"),
        name=r.text("incidentName", required=True, max_length=500),
        created_time=created,
        last_update_time=updated,
        assigned_to=r.text("assignedTo", max_length=320),
        classification=r.enum("classification", _CLASSIFICATION, max_length=40),
        determination=r.enum("determination", _DETERMINATION, max_length=40),
        status=r.enum("status", _INCIDENT_STATUS, required=True),
        severity=r.enum("severity", _SEVERITY, required=True),
        tags=tags,
        comments=comments,
        alerts=alerts,
        raw={k: v for k, v in obj.items() if k != "alerts"},
    )


def parse_incident_page(
    value: Any, *, tenant_id: str, max_rows: int = 100, strict_enums: bool = True
) -> list[ParsedIncident]:
    """Validate a list page's ``value`` array (§5.2) for ``tenant_id`` (lowercase GUID).

    Returns the parsed incidents in page order. Raises PayloadError (``oversized_page`` when
    the page has more than ``max_rows`` rows, ``wrong_tenant`` for another tenant's data,
    ``bad_payload`` otherwise) on the first problem; nothing is returned for a bad page.
    ``strict_enums``: see ``parse_incident``.
    """
    if not isinstance(value, list):
        raise PayloadError(f"expected an array, got {type_name(value)}", path="value")
    if len(value) > max_rows:
        raise PayloadError(
            f"the page has {len(value)} incidents, more than the {max_rows} requested",
            path="value",
            code="oversized_page",
        )
    tenant = tenant_id.lower()
    return [
        parse_incident(item, tenant_id=tenant, path=f"value[{index}]", strict_enums=strict_enums)
        for index, item in enumerate(value)
    ]
