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
        """Return ``value`` (the formatted CSV line) instead of writing it."""
        return value


def csv_lines(incidents: Iterable[Incident], *, limit: int) -> Iterator[str]:
    """The header (after a UTF-8 BOM), one line per incident up to ``limit``, and a final
    "# Export stopped at {limit} rows" note only if ``incidents`` held more. Give it up to
    ``limit + 1`` rows: the extra one, read to know the export was cut, is never written."""
    writer = csv.writer(_Echo())
    yield "\ufeff" + writer.writerow(HEADER)
    for written, incident in enumerate(incidents):
        if written == limit:
            yield writer.writerow(
                [f"# Export stopped at {limit} rows; narrow the filters for more."]
            )
            return
        yield writer.writerow(incident_cells(incident))
