"""Validated incidents and alerts (``incidents.parsing``'s output, ``incidents.upsert``'s input)
and the search text the dashboard's substring search reads.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

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
