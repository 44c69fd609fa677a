"""CSV export of the incident list's current filtered view, streamed row by row.

Cells that a spreadsheet would run as a formula (starting with ``= + - @``, tab or carriage
return) are prefixed with an apostrophe (OWASP "CSV injection").
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator

from dashboard.presenters import defender_url
from incidents.models import Incident

HEADER = [
    "Customer",
    "Incident ID",
    "Incident name",
    "Severity",
    "Status",
    "Classification",
    "Determination",
    "Assigned to",
    "Alerts",
    "Service sources",
    "Created (UTC)",
    "Last updated (UTC)",
    "Defender portal link",
]
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: object) -> str:
    """``value`` as text, neutralised if a spreadsheet would evaluate it."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def incident_cells(incident: Incident) -> list[str]:
    """One CSV row of ``incident`` (customer loaded), in ``HEADER`` order."""
    values: list[object] = [
        incident.customer.name,
        incident.incident_id,
        incident.name,
        incident.severity,
        incident.status,
        incident.classification,
        incident.determination,
        incident.assigned_to,
        incident.alert_count,
        "; ".join(incident.service_sources or []),
        incident.created_time.isoformat(),
        incident.last_update_time.isoformat(),
        defender_url(incident),
    ]
    return [safe_cell(v) for v in values]


class _Echo:
    """A file-like object whose write() returns the line, for csv.writer in a generator."""

    def write(self, value: str) -> str:
        return value


def csv_lines(incidents: Iterable[Incident], *, limit: int) -> Iterator[str]:
    """The header, one line per incident, and a final note if ``limit`` rows were reached."""
    writer = csv.writer(_Echo())
    yield "\ufeff" + writer.writerow(HEADER)
    written = 0
    for incident in incidents:
        written += 1
        yield writer.writerow(incident_cells(incident))
    if written >= limit:
        yield writer.writerow([f"# Export stopped at {limit} rows; narrow the filters for more."])
