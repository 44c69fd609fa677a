"""The incident dashboard in a real browser (system Chromium): each persona sees exactly their
customers' incidents; filters, sorting, paging, detail and export work; a new incident in the
emulator appears after the next sync without a reload (issue 6, "Done when")."""

from __future__ import annotations

import csv
import io
import os
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from tests.browser.conftest import sign_in
from tests.factories import AlertFactory, ConnectedCustomerFactory, IncidentFactory

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

NAME_CELLS = "#incident-rows td.name a"


def _names(page: Any) -> list[str]:
    return [n.strip() for n in page.locator(NAME_CELLS).all_inner_texts()]


@pytest.fixture
def incidents(customer_a: Any, customer_b: Any) -> dict[str, Any]:
    """Four incidents of Contoso (analyst_a) and three of Fabrikam (analyst_b)."""
    now = timezone.now()
    specs = [
        (customer_a, "Contoso ransomware", "High", "Active", 1),
        (customer_a, "Contoso phishing", "Medium", "Active", 2),
        (customer_a, "Contoso proxy login", "Low", "Resolved", 3),
        (customer_a, "Contoso macro", "High", "InProgress", 4),
        (customer_b, "Fabrikam impossible travel", "Medium", "Active", 5),
        (customer_b, "Fabrikam malware", "High", "Resolved", 6),
        (customer_b, "Fabrikam script", "Informational", "Active", 7),
    ]
    made = {}
    for customer, name, severity, status, hours in specs:
        made[name] = IncidentFactory(
            customer=customer,
            name=name,
            severity=severity,
            status=status,
            search_text=name.lower(),
            created_time=now - timedelta(hours=hours),
            last_update_time=now - timedelta(hours=hours),
        )
    AlertFactory(
        incident=made["Contoso ransomware"],
        title="Ransomware behaviour detected",
        mitre_techniques=["T1486"],
        entities=[{"entityType": "Ip", "ipAddress": "198.51.100.23"}],
    )
    return made


CONTOSO = ["Contoso ransomware", "Contoso phishing", "Contoso proxy login", "Contoso macro"]
FABRIKAM = ["Fabrikam impossible travel", "Fabrikam malware", "Fabrikam script"]


@pytest.mark.parametrize(
    ("persona", "expected"),
    [
        ("admin_user", CONTOSO + FABRIKAM),
        ("analyst_a", CONTOSO),
        ("analyst_b", FABRIKAM),
    ],
)
def test_each_persona_sees_exactly_their_customers_incidents(
    page: Any,
    live_server: Any,
    request: pytest.FixtureRequest,
    incidents: dict[str, Any],
    persona: str,
    expected: list[str],
) -> None:
    sign_in(page, live_server, request.getfixturevalue(persona))
    assert _names(page) == expected  # newest first
    page.wait_for_selector("#summary .sev-cards")
    summary = page.locator("#summary").inner_text()
    for name in ("Contoso", "Fabrikam"):
        assert (name in summary) == any(e.startswith(name) for e in expected)
    page.goto(f"{live_server.url}/tenants/")
    customers = page.locator("table.tenants tbody").inner_text()
    assert ("Contoso" in customers) == (expected[0].startswith("Contoso"))
    assert ("Fabrikam" in customers) == (expected[-1].startswith("Fabrikam"))


def test_another_customers_incident_is_not_found(
    page: Any, live_server: Any, analyst_a: Any, incidents: dict[str, Any]
) -> None:
    sign_in(page, live_server, analyst_a)
    other = incidents["Fabrikam malware"]
    response = page.goto(f"{live_server.url}/incidents/{other.pk}/")
    assert response.status == 404
    assert "Fabrikam" not in page.content()


def test_filters_sorting_paging_detail_and_export(
    page: Any, live_server: Any, admin_user: Any, incidents: dict[str, Any], settings: Any
) -> None:
    settings.DASHBOARD_PAGE_SIZE = 3
    sign_in(page, live_server, admin_user)

    # Paging: three per page, rel="next" walks the whole list once.
    seen = _names(page)
    assert seen == CONTOSO[:3]
    while page.locator('a[rel="next"]').count():
        page.click('a[rel="next"]')
        page.wait_for_load_state()
        seen += _names(page)
    assert seen == CONTOSO + FABRIKAM

    # Filters combine and live in the URL.
    page.goto(f"{live_server.url}/")
    page.check('input[name="severity"][value="High"]')
    page.check('input[name="status"][value="Active"]')
    page.check('input[name="status"][value="InProgress"]')
    page.click("text=Apply filters")
    page.wait_for_url("**/?**severity=High**")
    assert _names(page) == ["Contoso ransomware", "Contoso macro"]
    assert "status=InProgress" in page.url
    page.fill('input[name="q"]', "MACRO")
    page.click("text=Apply filters")
    page.wait_for_url("**q=MACRO**")
    assert _names(page) == ["Contoso macro"]

    # Sorting by severity keeps the other filters.
    page.goto(f"{live_server.url}/?status=Active")
    page.click("th >> text=Severity")
    page.wait_for_url("**sort=severity**")
    assert "status=Active" in page.url
    assert _names(page) == [
        "Contoso ransomware",
        "Contoso phishing",
        "Fabrikam impossible travel",
    ]
    page.click('a[rel="next"]')
    page.wait_for_load_state()
    assert _names(page) == ["Fabrikam script"]

    # Export: the current filtered view as CSV.
    page.goto(f"{live_server.url}/?severity=High")
    with page.expect_download() as download_info:
        page.click("text=Export CSV")
    path = download_info.value.path()
    with open(path, encoding="utf-8-sig") as fh:
        rows = list(csv.reader(io.StringIO(fh.read())))
    assert rows[0][:3] == ["Customer", "Incident ID", "Incident name"]
    assert [r[2] for r in rows[1:]] == ["Contoso ransomware", "Contoso macro", "Fabrikam malware"]

    # Detail: alerts, MITRE technique, entity, raw payload on demand.
    page.click("text=Contoso ransomware")
    page.wait_for_selector("h1")
    body = page.locator("main").inner_text()
    for text in ("Ransomware behaviour detected", "T1486", "198.51.100.23", "Contoso"):
        assert text in body
    page.click("text=Raw payload (as received from Microsoft)")
    page.wait_for_selector("pre.raw-json")
    assert '"incidentName": "Contoso ransomware"' in page.locator("pre.raw-json").inner_text()


def test_keyboard_users_reach_the_filters_and_the_table(
    page: Any, live_server: Any, analyst_a: Any, incidents: dict[str, Any]
) -> None:
    sign_in(page, live_server, analyst_a)
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    page.keyboard.press("Enter")
    page.focus('input[name="q"]')
    page.keyboard.type("phishing")
    page.keyboard.press("Enter")
    page.wait_for_url("**q=phishing**")
    assert _names(page) == ["Contoso phishing"]


def test_page_makes_no_external_requests(
    page: Any, live_server: Any, admin_user: Any, incidents: dict[str, Any]
) -> None:
    requested: list[str] = []
    page.on("request", lambda r: requested.append(r.url))
    sign_in(page, live_server, admin_user)
    page.wait_for_selector("#summary .sev-cards")
    page.goto(f"{live_server.url}/incidents/{incidents['Contoso ransomware'].pk}/")
    page.goto(f"{live_server.url}/tenants/")
    assert requested
    assert all(url.startswith(live_server.url) for url in requested), requested


def test_new_incident_in_the_emulator_appears_after_the_next_sync_without_reload(
    page: Any,
    live_server: Any,
    analyst_a: Any,
    portal_emulator: Any,
    settings: Any,
) -> None:
    from sync.services import sync_tenant

    settings.DASHBOARD_REFRESH_SECONDS = 1
    tenant = next(t for t in portal_emulator.tenants if t.state == "consented")
    customer = ConnectedCustomerFactory(name="Emulated Contoso", tenant_id=tenant.tenant_id)
    customer.assigned_users.add(analyst_a)
    first = sync_tenant(customer_id=customer.pk, trigger="manual")
    assert first.outcome == "succeeded", first

    sign_in(page, live_server, analyst_a)
    page.evaluate("window.__loadedMarker = 'still the same page'")
    name = "Browser test: ransomware on fin-ws-042"
    assert name not in page.content()

    portal_emulator.add_incident(tenant.tenant_id, incidentName=name, severity="High")
    second = sync_tenant(customer_id=customer.pk, trigger="manual")
    assert second.outcome == "succeeded", second

    row = page.locator("#incident-rows tr", has_text=name)
    row.wait_for(timeout=15_000)
    assert page.evaluate("window.__loadedMarker") == "still the same page"  # no reload
    assert "new-high" in (row.get_attribute("class") or "")
    assert row.locator(".new-marker").inner_text() == "NEW"
    assert "1 new high-severity incident since" in page.locator(".new-high-note").inner_text()
