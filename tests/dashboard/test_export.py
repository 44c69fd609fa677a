"""CSV export of the current filtered view: header, scoping, filters, injection, cap."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from django.urls import reverse

from dashboard.export import csv_lines, safe_cell
from tests.factories import IncidentFactory

pytestmark = pytest.mark.django_db


def _rows(response: Any) -> list[list[str]]:
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.reader(io.StringIO(text)))


def test_export_streams_a_header_and_the_filtered_rows(
    client: Any, admin_user: Any, incident_a: Any, incident_b: Any
) -> None:
    client.force_login(admin_user)
    response = client.get(reverse("dashboard:export"), {"severity": "High"})
    assert response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="incidents-')
    rows = _rows(response)
    assert rows[0][:4] == ["Customer", "Incident ID", "Incident name", "Severity"]
    assert len(rows) == 2
    assert rows[1][:5] == ["Contoso", "501", "Contoso ransomware on fin-ws-01", "High", "Active"]
    assert rows[1][9] == "MicrosoftDefenderForEndpoint"
    assert rows[1][12].startswith("https://security.microsoft.com/incidents/501?tid=")


def test_export_is_scoped_to_the_user(
    client: Any, analyst_b: Any, incident_a: Any, incident_b: Any
) -> None:
    client.force_login(analyst_b)
    rows = _rows(client.get(reverse("dashboard:export"), {"customer": incident_a.customer.pk}))
    assert [r[0] for r in rows[1:]] == ["Fabrikam"]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ('=HYPERLINK("http://x")', '\'=HYPERLINK("http://x")'),
        ("+1+1", "'+1+1"),
        ("-2", "'-2"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("plain", "plain"),
        (None, ""),
    ],
)
def test_formula_cells_are_neutralised(value: Any, expected: str) -> None:
    assert safe_cell(value) == expected


def test_export_neutralises_a_formula_in_an_incident_name(
    client: Any, admin_user: Any, customer_a: Any
) -> None:
    IncidentFactory(customer=customer_a, name="=cmd|' /C calc'!A0", assigned_to="@evil")
    client.force_login(admin_user)
    rows = _rows(client.get(reverse("dashboard:export")))
    assert rows[1][2] == "'=cmd|' /C calc'!A0"
    assert rows[1][7] == "'@evil"


def test_export_walks_pages_and_stops_at_the_cap(
    client: Any, admin_user: Any, customer_a: Any, settings: Any
) -> None:
    settings.DASHBOARD_EXPORT_MAX_ROWS = 5
    for n in range(7):
        IncidentFactory(customer=customer_a, name=f"n{n}")
    client.force_login(admin_user)
    rows = _rows(client.get(reverse("dashboard:export")))
    assert [r[2] for r in rows[1:6]] == ["n6", "n5", "n4", "n3", "n2"]
    assert rows[6] == ["# Export stopped at 5 rows; narrow the filters for more."]
    assert len(rows) == 7


@pytest.mark.parametrize(("stored", "cut"), [(4, False), (5, False), (6, True)])
def test_export_says_it_stopped_only_when_rows_were_left_out(
    client: Any, admin_user: Any, customer_a: Any, settings: Any, stored: int, cut: bool
) -> None:
    settings.DASHBOARD_EXPORT_MAX_ROWS = 5
    for n in range(stored):
        IncidentFactory(customer=customer_a, name=f"n{n}")
    client.force_login(admin_user)
    rows = _rows(client.get(reverse("dashboard:export")))
    names = [r[2] for r in rows[1:] if not r[0].startswith("#")]
    assert names == [f"n{n}" for n in reversed(range(stored))][:5]  # newest first
    notes = [r for r in rows if r[0].startswith("#")]
    assert notes == ([["# Export stopped at 5 rows; narrow the filters for more."]] if cut else [])


def _csv(lines: Any) -> list[list[str]]:
    return list(csv.reader(io.StringIO("".join(lines).removeprefix("\ufeff"))))


def test_csv_lines_writes_exactly_limit_rows_without_a_note(customer_a: Any) -> None:
    incidents = [IncidentFactory(customer=customer_a, name=f"x{n}") for n in range(3)]
    rows = _csv(csv_lines(incidents, limit=3))
    assert [r[2] for r in rows[1:]] == ["x0", "x1", "x2"]


def test_csv_lines_notes_a_cut_and_never_writes_the_extra_row(customer_a: Any) -> None:
    incidents = [IncidentFactory(customer=customer_a, name=f"x{n}") for n in range(4)]
    rows = _csv(csv_lines(incidents, limit=3))
    assert [r[2] for r in rows[1:4]] == ["x0", "x1", "x2"]
    assert rows[4:] == [["# Export stopped at 3 rows; narrow the filters for more."]]


def test_export_reads_in_keyset_chunks(admin_user: Any, customer_a: Any) -> None:
    from dashboard.filters import IncidentFilters
    from dashboard.selectors import export_rows

    for n in range(7):
        IncidentFactory(customer=customer_a, name=f"c{n}")
    names = [i.name for i in export_rows(admin_user, IncidentFilters(), limit=100, chunk=3)]
    assert names == [f"c{n}" for n in range(6, -1, -1)]
