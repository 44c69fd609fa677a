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
  ``determination`` when not null). A value outside the documented set is an error. Matching is
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
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

from microsoft.errors import BadResponseError

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

# Entity/device keys whose values go into the search text (users, mailboxes, IPs, files, URLs).
SEARCH_ENTITY_KEYS = (
    "accountName",
    "userPrincipalName",
    "mailboxAddress",
    "sender",
    "recipient",
    "ipAddress",
    "url",
    "fileName",
)
# Characters of search text kept per incident.
MAX_SEARCH_TEXT = 32_000

_DATETIME_RE = re.compile(
    r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})?\Z"
)


class PayloadError(BadResponseError):
    """A page failed validation. ``path`` locates the bad value (``value[3].alerts[0].status``);
    ``code`` is ``bad_payload``, ``wrong_tenant`` or ``oversized_page``."""

    def __init__(self, message: str, *, path: str = "", code: str = "bad_payload") -> None:
        super().__init__(f"{path}: {message}" if path else message, code=code)
        self.path = path


def _canonical(values: tuple[str, ...]) -> dict[str, str]:
    return {v.lower(): v for v in values}


_SEVERITY = _canonical(SEVERITIES)
_INCIDENT_STATUS = _canonical(INCIDENT_STATUSES)
_ALERT_STATUS = _canonical(ALERT_STATUSES)
_CLASSIFICATION = _canonical(CLASSIFICATIONS)
_DETERMINATION = _canonical(DETERMINATIONS)


@dataclass(slots=True)
class ParsedAlert:
    """One validated alert (§5.4). Times are aware UTC datetimes (microsecond precision)."""

    alert_id: str
    incident_id: int | None
    title: str
    description: str
    severity: str
    status: str
    category: str
    service_source: str
    detection_source: str
    classification: str
    determination: str
    assigned_to: str
    mitre_techniques: list[Any]
    creation_time: datetime | None
    last_updated_time: datetime | None
    first_activity: datetime | None
    last_activity: datetime | None
    resolved_time: datetime | None
    devices: list[dict[str, Any]]
    entities: list[dict[str, Any]]
    raw: dict[str, Any]
    search_terms: list[str] = field(default_factory=list)


@dataclass(slots=True)
class ParsedIncident:
    """One validated incident (§5.3) with its alerts; ``incident_uri`` is "" when not sent."""

    incident_id: int
    incident_uri: str
    redirect_incident_id: int | None
    name: str
    created_time: datetime
    last_update_time: datetime
    assigned_to: str
    classification: str
    determination: str
    status: str
    severity: str
    tags: list[Any]
    comments: list[Any]
    alerts: list[ParsedAlert]
    raw: dict[str, Any]

    @property
    def service_sources(self) -> list[str]:
        """Distinct non-empty alert ``serviceSource`` values, sorted."""
        return sorted({a.service_source for a in self.alerts if a.service_source})

    def search_text(self) -> str:
        """Lowercased, de-duplicated terms: name, alert titles, users, mailboxes, devices, IPs,
        files, URLs; one per line in first-seen order, at most MAX_SEARCH_TEXT characters.

        A term contained in a longer one is left out (an alert title repeating the incident
        name, ``j.doe`` beside ``j.doe@contoso.com``): every substring search (``LIKE
        '%term%'``) matches exactly as before, and the text feeding the trigram index is
        shorter."""
        seen: dict[str, None] = {}
        for term in [self.name] + [t for a in self.alerts for t in a.search_terms]:
            text = term.strip().lower()
            if text:
                seen.setdefault(text, None)
        kept: set[str] = set()
        longer = ""  # the kept terms so far, longest first
        for text in sorted(seen, key=len, reverse=True):
            if "\n" in text or text not in longer:  # a match across two lines would not hold
                kept.add(text)
                longer += "\n" + text
        return "\n".join(t for t in seen if t in kept)[:MAX_SEARCH_TEXT]


@functools.lru_cache(maxsize=4096)
def parse_datetime(value: str) -> datetime:
    """Parse a DateTimeOffset (``2025-02-17T09:14:22.5633333Z``, §5.3) to an aware UTC datetime.

    Fraction digits beyond microseconds are truncated (never rounded up, so a watermark built
    from the result is never later than the original). No zone means UTC. Raises ValueError.
    Cached: a page repeats times (an alert's creation and update time, its incident's update
    time); datetimes are immutable, and errors are not cached.
    """
    if not _DATETIME_RE.match(value):
        raise ValueError(f"not an ISO 8601 date-time: {value!r}")
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def format_filter_datetime(value: datetime) -> str:
    """A datetime as the $filter wants it: unquoted ISO 8601, 7 fraction digits, ``Z`` (§5.1)."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f") + "0Z"


class _Reader:
    """Typed access to one JSON object, raising PayloadError with the path of the bad value."""

    __slots__ = ("obj", "path")

    def __init__(self, obj: Any, path: str) -> None:
        if not isinstance(obj, dict):
            raise PayloadError(f"expected an object, got {_type_name(obj)}", path=path)
        self.obj: dict[str, Any] = obj
        self.path = path

    def _get(self, key: str, required: bool) -> Any:
        value = self.obj.get(key)
        if value is None and required:
            what = "is null" if key in self.obj else "is missing"
            raise PayloadError(f"required field {what}", path=f"{self.path}.{key}")
        return value

    def integer(self, key: str, *, required: bool = False) -> int | None:
        value = self._get(key, required)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            raise self._wrong(key, "an integer", value)
        return value

    def text(
        self, key: str, *, required: bool = False, max_length: int = 0, truncate: bool = True
    ) -> str:
        value = self._get(key, required)
        if value is None:
            return ""
        if not isinstance(value, str):
            raise self._wrong(key, "a string", value)
        if max_length and len(value) > max_length:
            if not truncate:
                raise PayloadError(
                    f"longer than {max_length} characters", path=f"{self.path}.{key}"
                )
            return value[:max_length]
        return value

    def moment(self, key: str, *, required: bool = False) -> datetime | None:
        value = self._get(key, required)
        if value is None:
            return None
        if not isinstance(value, str):
            raise self._wrong(key, "an ISO 8601 date-time string", value)
        try:
            return parse_datetime(value)
        except ValueError:
            raise PayloadError(
                f"not an ISO 8601 date-time: {value[:40]!r}", path=f"{self.path}.{key}"
            ) from None

    def enum(self, key: str, allowed: dict[str, str], *, required: bool = False) -> str:
        value = self._get(key, required)
        if value is None:
            return ""
        if not isinstance(value, str):
            raise self._wrong(key, "a string", value)
        canonical = allowed.get(value.lower())
        if canonical is None:
            raise PayloadError(
                f"unknown value {value[:40]!r} (expected one of {', '.join(allowed.values())})",
                path=f"{self.path}.{key}",
            )
        return canonical

    def array(self, key: str) -> list[Any]:
        value = self.obj.get(key)
        if value is None:
            return []
        if not isinstance(value, list):
            raise self._wrong(key, "an array", value)
        return value

    def objects(self, key: str) -> list[dict[str, Any]]:
        items = self.array(key)
        for index, item in enumerate(items):
            if not isinstance(item, dict):
                raise PayloadError(
                    f"expected an object, got {_type_name(item)}",
                    path=f"{self.path}.{key}[{index}]",
                )
        return items

    def _wrong(self, key: str, expected: str, value: Any) -> PayloadError:
        return PayloadError(
            f"expected {expected}, got {_type_name(value)}", path=f"{self.path}.{key}"
        )


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    return {
        bool: "a boolean",
        int: "an integer",
        float: "a number",
        str: "a string",
        list: "an array",
        dict: "an object",
    }.get(type(value), type(value).__name__)


def _check_tenant(tid: str, expected: str, path: str) -> None:
    if tid.strip().lower() != expected:
        raise PayloadError(
            f"belongs to tenant {tid[:40]!r}, not {expected}", path=path, code="wrong_tenant"
        )


def _parse_alert(obj: Any, path: str, tenant_id: str) -> ParsedAlert:
    r = _Reader(obj, path)
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
                f"expected a string, got {_type_name(technique)}",
                path=f"{path}.mitreTechniques[{index}]",
            )
    title = r.text("title", max_length=500)
    terms = [title]
    for index, entity in enumerate(entities):
        if not isinstance(entity.get("entityType"), str):
            _Reader(entity, f"{path}.entities[{index}]").text("entityType", required=True)
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
        classification=r.enum("classification", _CLASSIFICATION),
        determination=r.enum("determination", _DETERMINATION),
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


def parse_incident(obj: Any, *, tenant_id: str, path: str = "incident") -> ParsedIncident:
    """Validate one incident object (§5.3) and its alerts. Raises PayloadError."""
    r = _Reader(obj, path)
    incident_id = r.integer("incidentId", required=True)
    assert incident_id is not None
    uri = r.text("incidentUri")
    if uri and not uri.lower().endswith(f"?tid={tenant_id}"):  # the live form, checked fast
        tids = parse_qs(urlsplit(uri).query).get("tid")
        if tids:
            _check_tenant(tids[0], tenant_id, f"{path}.incidentUri")
        if len(uri) > 500:
            uri = ""  # rebuilt from DEFENDER_PORTAL_URL; raw keeps the original
    tags = r.array("tags")
    comments = r.array("comments")
    alerts = [
        _parse_alert(item, f"{path}.alerts[{index}]", tenant_id)
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
        classification=r.enum("classification", _CLASSIFICATION),
        determination=r.enum("determination", _DETERMINATION),
        status=r.enum("status", _INCIDENT_STATUS, required=True),
        severity=r.enum("severity", _SEVERITY, required=True),
        tags=tags,
        comments=comments,
        alerts=alerts,
        raw={k: v for k, v in obj.items() if k != "alerts"},
    )


def parse_incident_page(value: Any, *, tenant_id: str, max_rows: int = 100) -> list[ParsedIncident]:
    """Validate a list page's ``value`` array (§5.2) for ``tenant_id`` (lowercase GUID).

    Returns the parsed incidents in page order. Raises PayloadError (``oversized_page`` when
    the page has more than ``max_rows`` rows, ``wrong_tenant`` for another tenant's data,
    ``bad_payload`` otherwise) on the first problem; nothing is returned for a bad page.
    """
    if not isinstance(value, list):
        raise PayloadError(f"expected an array, got {_type_name(value)}", path="value")
    if len(value) > max_rows:
        raise PayloadError(
            f"the page has {len(value)} incidents, more than the {max_rows} requested",
            path="value",
            code="oversized_page",
        )
    tenant = tenant_id.lower()
    return [
        parse_incident(item, tenant_id=tenant, path=f"value[{index}]")
        for index, item in enumerate(value)
    ]
