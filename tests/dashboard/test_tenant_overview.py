"""Tenant overview: consent badge, open incidents by severity, sync outcome, freshness and
errors in plain words."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from sync.models import TenantSyncState
from tenants.models import ConsentState
from tests.factories import CustomerFactory, IncidentFactory

pytestmark = pytest.mark.django_db


def _row(html: str, name: str) -> str:
    match = re.search(rf"<tr>\s*<td>(?:<a [^>]*>)?{name}.*?</tr>", html, re.S)
    assert match, name
    return match.group(0)


def test_overview_lists_every_visible_customer_with_state_counts_and_sync(
    client: Any, admin_user: Any, customer_a: Any, customer_b: Any
) -> None:
    for severity in ("High", "High", "Medium", "Low"):
        IncidentFactory(customer=customer_a, severity=severity)
    IncidentFactory(customer=customer_a, severity="High", status="Resolved")
    TenantSyncState.objects.create(
        customer=customer_a,
        last_success_at=timezone.now() - timedelta(minutes=2),
        last_finished_at=timezone.now() - timedelta(minutes=2),
        last_outcome="succeeded",
    )
    TenantSyncState.objects.create(
        customer=customer_b,
        last_success_at=timezone.now() - timedelta(hours=5),
        last_finished_at=timezone.now(),
        last_outcome="failed",
        last_error="Microsoft refused the token: consent was revoked.",
    )
    pending = CustomerFactory(name="Northwind", consent_state=ConsentState.PENDING)
    missing = CustomerFactory(
        name="Tailspin",
        consent_state=ConsentState.MISSING_PERMISSIONS,
        missing_roles=["Incident.Read.All"],
        last_error="The token lacks Incident.Read.All.",
        last_error_code="HTTP 403",
    )
    client.force_login(admin_user)
    html = client.get(reverse("dashboard:tenants")).content.decode()
    contoso = _row(html, "Contoso")
    assert '<span class="badge state-connected">Connected</span>' in contoso
    counts = re.findall(r'<td class="num">(?:<a [^>]*>)?(?:<span class="muted">)?(\d+)', contoso)
    assert counts == ["2", "1", "1", "0", "0"]
    assert "Succeeded" in contoso and "2 min ago" in contoso and "Stale" not in contoso
    fabrikam = _row(html, "Fabrikam")
    assert 'class="outcome outcome-failed">Failed' in fabrikam
    assert "Sync: Microsoft refused the token: consent was revoked." in fabrikam
    assert "Stale" in fabrikam
    assert "Waiting for the customer&#x27;s administrator to grant admin consent." in _row(
        html, "Northwind"
    )
    tailspin = _row(html, "Tailspin")
    assert '<span class="badge state-missing_permissions">Missing permissions</span>' in tailspin
    assert "the app lacks Incident.Read.All" in tailspin
    assert "(HTTP 403)" in tailspin
    assert "The token lacks Incident.Read.All." not in tailspin  # not said twice
    assert "Never synced" in tailspin
    assert pending.pk and missing.pk
    assert "1 stale" in html


def test_overview_links_counts_to_the_filtered_list(
    client: Any, admin_user: Any, customer_a: Any
) -> None:
    IncidentFactory(customer=customer_a, severity="High")
    client.force_login(admin_user)
    html = client.get(reverse("dashboard:tenants")).content.decode()
    assert (
        f'href="/?customer={customer_a.pk}&amp;severity=High&amp;status=Active&amp;status=InProgress"'
        in html
    )


def test_analyst_sees_only_assigned_customers(
    client: Any, analyst_a: Any, customer_a: Any, customer_b: Any
) -> None:
    client.force_login(analyst_a)
    html = client.get(reverse("dashboard:tenants")).content.decode()
    assert "Contoso" in html and "Fabrikam" not in html
    assert "1 customer" in html


def _names_in_order(html: str) -> list[str]:
    return re.findall(r"<tr><td>(?:<a [^>]*>)?([^<]+)", html)


def _synced(customer: Any, *, error: str = "") -> None:
    TenantSyncState.objects.create(
        customer=customer,
        last_success_at=timezone.now() - timedelta(minutes=1),
        last_finished_at=timezone.now(),
        last_outcome="failed" if error else "succeeded",
        last_error=error,
    )


def test_customers_needing_attention_come_first_then_most_open_high(
    client: Any, admin_user: Any
) -> None:
    made = {}
    for name, state in [
        ("Alpha", ConsentState.CONNECTED),
        ("Bravo", ConsentState.CONNECTED),
        ("Charlie", ConsentState.CONSENT_REVOKED),
        ("Delta", ConsentState.MISSING_PERMISSIONS),
        ("Echo", ConsentState.CONNECTED),
        ("Foxtrot", ConsentState.PENDING),
        ("Golf", ConsentState.OFFBOARDED),
        ("Hotel", ConsentState.CONNECTED),
        ("India", ConsentState.ERROR),
        ("Juliett", ConsentState.CONNECTED),
    ]:
        made[name] = CustomerFactory(name=name, consent_state=state)
    for name in ("Alpha", "Bravo", "Hotel"):
        _synced(made[name])
    _synced(made["Echo"], error="Microsoft answered HTTP 503 three times.")
    # Juliett is connected but never synced: stale, a sync problem.
    IncidentFactory(customer=made["Alpha"], severity="High")
    for _ in range(3):
        IncidentFactory(customer=made["Bravo"], severity="High")
    IncidentFactory(customer=made["Bravo"], severity="High", status="Resolved")
    IncidentFactory(customer=made["Hotel"], severity="Medium")
    IncidentFactory(customer=made["Delta"], severity="High")
    client.force_login(admin_user)
    html = client.get(reverse("dashboard:tenants")).content.decode()
    assert _names_in_order(html) == [
        "Delta",  # consent problems, by open High, then name
        "Charlie",
        "India",
        "Echo",  # sync problems: failed last sync, never synced
        "Juliett",
        "Bravo",  # the rest, by open High, then name
        "Alpha",
        "Foxtrot",
        "Hotel",
        "Golf",  # offboarded last
    ]
    assert "10 customers" in html and "1 stale" in html
    assert 'aria-label="3 open High incidents of Bravo">3</a>' in html


def test_pages_reach_every_customer(
    client: Any, admin_user: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("dashboard.selectors.overview.OVERVIEW_PAGE_SIZE", 2)
    names = [f"Tenant {n}" for n in range(5)]
    for name in names:
        _synced(CustomerFactory(name=name, consent_state=ConsentState.CONNECTED))
    CustomerFactory(name="Tenant stale", consent_state=ConsentState.CONNECTED)
    client.force_login(admin_user)
    url = reverse("dashboard:tenants")
    seen: list[str] = []
    pages = []
    while url:
        html = client.get(url).content.decode()
        assert "6 customers" in html and "1 stale" in html
        pages.append(re.search(r"Page (\d+) of (\d+)", html).groups())
        seen += _names_in_order(html)
        match = re.search(r'rel="next" href="([^"]+)"', html)
        url = reverse("dashboard:tenants") + match.group(1) if match else ""
    assert pages == [("1", "3"), ("2", "3"), ("3", "3")]
    assert seen == ["Tenant stale", *names]
    last = client.get(reverse("dashboard:tenants"), {"page": "99"}).content.decode()
    assert _names_in_order(last) == names[3:]
    first = client.get(reverse("dashboard:tenants"), {"page": "junk"}).content.decode()
    assert _names_in_order(first) == ["Tenant stale", "Tenant 0"]
    assert "showing 1–2" in first


def test_a_single_page_has_no_pager(client: Any, admin_user: Any, customer_a: Any) -> None:
    client.force_login(admin_user)
    html = client.get(reverse("dashboard:tenants")).content.decode()
    assert "Page 1 of" not in html and 'rel="next"' not in html


def test_customer_values_are_escaped_in_the_rows(client: Any, admin_user: Any) -> None:
    CustomerFactory(
        name='<b>Evil</b> & "Co"',
        primary_domain="<i>evil.example</i>",
        consent_state=ConsentState.ERROR,
        last_error="<script>alert(1)</script>",
        last_error_code="<x>",
    )
    client.force_login(admin_user)
    html = client.get(reverse("dashboard:tenants")).content.decode()
    assert "&lt;b&gt;Evil&lt;/b&gt; &amp; &quot;Co&quot;" in html
    assert "&lt;i&gt;evil.example&lt;/i&gt;" in html
    assert '&lt;script&gt;alert(1)&lt;/script&gt; <span class="muted">(&lt;x&gt;)</span>' in html
    assert "<script>alert" not in html and "<b>Evil" not in html


def test_a_later_page_runs_the_same_queries(
    client: Any,
    admin_user: Any,
    monkeypatch: pytest.MonkeyPatch,
    django_assert_num_queries: Any,
) -> None:
    monkeypatch.setattr("dashboard.selectors.overview.OVERVIEW_PAGE_SIZE", 3)
    for n in range(10):
        customer = CustomerFactory(name=f"Tenant {n:02d}", consent_state=ConsentState.CONNECTED)
        _synced(customer)
        IncidentFactory(customer=customer, severity="High")
    client.force_login(admin_user)
    # Session, user, user and group permissions, then customer and stale counts, one page.
    with django_assert_num_queries(4 + 2):
        html = client.get(reverse("dashboard:tenants"), {"page": "3"}).content.decode()
    assert _names_in_order(html) == ["Tenant 06", "Tenant 07", "Tenant 08"]


def test_overview_names_link_to_each_customers_page(
    client: Any, admin_user: Any, customer_a: Any, customer_b: Any
) -> None:
    client.force_login(admin_user)
    html = client.get(reverse("dashboard:tenants")).content.decode()
    assert f'<tr><td><a href="/customers/{customer_a.pk}/">Contoso</a>' in html
    assert f'<tr><td><a href="/customers/{customer_b.pk}/">Fabrikam</a>' in html
