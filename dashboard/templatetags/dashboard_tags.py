"""Template filters of the dashboard: readable enum values, short service-source names, ages."""

from __future__ import annotations

import re
from datetime import datetime

from django import template
from django.utils import timezone

register = template.Library()

# Service sources (contract §5.4) as analysts abbreviate them.
SOURCE_SHORT = {
    "MicrosoftDefenderForEndpoint": "Defender for Endpoint",
    "MicrosoftDefenderATP": "Defender for Endpoint",
    "MicrosoftDefenderForOffice365": "Defender for Office 365",
    "OfficeATP": "Defender for Office 365",
    "MicrosoftDefenderForIdentity": "Defender for Identity",
    "MicrosoftCloudAppSecurity": "Defender for Cloud Apps",
    "AADIdentityProtection": "Entra ID Protection",
}
# The abbreviations analysts use, for the dense incident table.
SOURCE_ABBR = {
    "MicrosoftDefenderForEndpoint": "MDE",
    "MicrosoftDefenderATP": "MDE",
    "MicrosoftDefenderForOffice365": "MDO",
    "OfficeATP": "MDO",
    "MicrosoftDefenderForIdentity": "MDI",
    "MicrosoftCloudAppSecurity": "MDA",
    "AADIdentityProtection": "Entra IDP",
}
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


@register.filter
def words(value: object) -> str:
    """ "InProgress" -> "In progress", "TruePositive" -> "True positive"; "" stays ""."""
    text = str(value or "")
    if not text:
        return ""
    if text == "UnSpecified":
        return "Unspecified"
    parts = _CAMEL.sub(" ", text).split(" ")
    return " ".join([parts[0], *[p.lower() if not p.isupper() else p for p in parts[1:]]])


@register.filter
def source_name(value: object) -> str:
    """Short product name of a serviceSource value (unknown values unchanged)."""
    return SOURCE_SHORT.get(str(value), str(value))


@register.filter
def source_abbr(value: object) -> str:
    """ "MicrosoftDefenderForEndpoint" -> "MDE" (unknown values unchanged)."""
    return SOURCE_ABBR.get(str(value), str(value))


@register.filter
def ago(value: datetime | None) -> str:
    """ "just now", "4 min ago", "3 h ago", "2 days ago"; "never" for None."""
    if value is None:
        return "never"
    seconds = int((timezone.now() - value).total_seconds())
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{seconds // 60} min ago"
    if seconds < 86400 * 2:
        return f"{seconds // 3600} h ago"
    return f"{seconds // 86400} days ago"


@register.filter
def get_count(counts: dict[str, int], key: str) -> int:
    """``counts[key]``, 0 if absent (for per-severity tables)."""
    return counts.get(key, 0) if isinstance(counts, dict) else 0


@register.filter
def outcome(value: object) -> str:
    """Label of a sync outcome value ("succeeded" -> "Succeeded")."""
    from dashboard.presenters import outcome_label

    return outcome_label(str(value or ""))
