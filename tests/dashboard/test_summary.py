"""The summary partial: open incidents by severity, per-customer open high/medium with
freshness, and the incidents-per-day chart (SVG with title, desc and a table)."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from dashboard.charts import build_chart
from dashboard.filters import IncidentFilters
from dashboard.selectors import DayCounts, created_per_day, summary
from sync.models import TenantSyncState
from tests.factories import IncidentFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def open_mix(customer_a: Any, customer_b: Any) -> None:
    for severity, status, customer in [
        ("High", "Active", customer_a),
        ("High", "InProgress", customer_a),
        ("High", "Resolved", customer_a),
        ("Medium", "Active", customer_a),
        ("Medium", "Active", customer_b),
        ("Low", "Active", customer_b),
        ("Informational", "Redirected", customer_b),
    ]:
        IncidentFactory(customer=customer, severity=severity, status=status)


def test_open_counts_by_severity_and_customer(
    admin_user: Any, open_mix: None, customer_a: Any
) -> None:
    result = summary(admin_user, IncidentFilters())
    assert result.by_severity == [
        ("High", 2),
        ("Medium", 2),
        ("Low", 1),
        ("Informational", 0),
        ("UnSpecified", 0),
    ]
    assert result.total_open == 5
    assert [(r.freshness.customer.name, r.open.high, r.open.medium) for r in result.customers] == [
        ("Contoso", 2, 1),
        ("Fabrikam", 0, 1),
    ]


def test_summary_is_scoped_and_follows_the_customer_filter(
    analyst_b: Any, admin_user: Any, open_mix: None, customer_b: Any
) -> None:
    mine = summary(analyst_b, IncidentFilters())
    assert mine.total_open == 2
    assert [r.freshness.customer.name for r in mine.customers] == ["Fabrikam"]
    narrowed = summary(admin_user, IncidentFilters(customer_ids=(customer_b.pk,)))
    assert narrowed.total_open == 2


def test_freshness_shows_last_successful_sync_and_stale_data(
    client: Any, admin_user: Any, open_mix: None, customer_a: Any, customer_b: Any
) -> None:
    TenantSyncState.objects.create(
        customer=customer_a, last_success_at=timezone.now() - timedelta(minutes=4)
    )
    TenantSyncState.objects.create(
        customer=customer_b, last_success_at=timezone.now() - timedelta(hours=3)
    )
    client.force_login(admin_user)
    html = client.get(reverse("dashboard:summary")).content.decode()
    rows = re.findall(r"<tr>\s*<td><a [^>]+>(\w+)</a></td>.*?</tr>", html, re.S)
    assert rows == ["Contoso", "Fabrikam"]
    contoso, fabrikam = re.findall(r"<tr>\s*<td><a .*?</tr>", html, re.S)
    assert "4 min ago" in contoso and "Stale" not in contoso
    assert "3 h ago" in fabrikam and 'class="badge stale">Stale' in fabrikam


def test_customer_never_synced_is_stale(client: Any, admin_user: Any, open_mix: None) -> None:
    client.force_login(admin_user)
    html = client.get(reverse("dashboard:summary")).content.decode()
    assert html.count('class="badge stale">Stale') == 2
    assert html.count(">never</span>") == 2


def test_created_per_day_counts_by_severity(admin_user: Any, customer_a: Any) -> None:
    today = timezone.now().replace(hour=12, minute=0)
    for ago_days, severity in [(0, "High"), (0, "High"), (0, "Low"), (2, "Medium"), (20, "High")]:
        IncidentFactory(
            customer=customer_a, severity=severity, created_time=today - timedelta(days=ago_days)
        )
    days = created_per_day(admin_user, IncidentFilters())
    assert len(days) == 14
    assert days[-1].day == today.date()
    assert days[-1].counts == {"High": 2, "Low": 1}
    assert days[-3].counts == {"Medium": 1}
    assert sum(d.total for d in days) == 4
    high_only = created_per_day(admin_user, IncidentFilters(severities=("High",)))
    assert sum(d.total for d in high_only) == 2


def test_chart_range_follows_the_selected_created_range(admin_user: Any, customer_a: Any) -> None:
    start = (timezone.now() - timedelta(days=40)).date()
    end = start + timedelta(days=2)
    IncidentFactory(customer=customer_a, created_time=timezone.now() - timedelta(days=39))
    days = created_per_day(admin_user, IncidentFilters(start=start, end=end))
    assert [d.day for d in days] == [start, start + timedelta(days=1), end]
    assert sum(d.total for d in days) == 1


def test_chart_svg_is_accessible_and_has_a_table(
    client: Any, admin_user: Any, customer_a: Any
) -> None:
    IncidentFactory(customer=customer_a, severity="High")
    client.force_login(admin_user)
    html = client.get(reverse("dashboard:summary")).content.decode()
    assert 'role="img" aria-labelledby="chart-svg-title chart-svg-desc"' in html
    assert '<title id="chart-svg-title">Incidents created per day by severity</title>' in html
    assert re.search(
        r'<desc id="chart-svg-desc">Stacked bars, one per day from .*: 1 incidents', html
    )
    assert "Show as table (1 incidents)" in html
    assert 'class="seg seg-High"' in html


def test_chart_geometry_stacks_most_severe_at_the_bottom() -> None:
    day = timezone.now().date()
    chart = build_chart([DayCounts(day=day, counts={"High": 2, "Low": 2})])
    bar = chart.bars[0]
    assert [s.severity for s in bar.segments] == ["High", "Low"]
    high, low = bar.segments
    assert high.y + high.height == pytest.approx(chart.plot_bottom)
    assert low.y + low.height == pytest.approx(high.y)
    assert chart.gridlines[-1][1] == 4
    assert "4 incidents (2 High, 2 Low)" in bar.title


def test_summary_partial_is_a_fragment_without_a_page(client: Any, admin_user: Any) -> None:
    client.force_login(admin_user)
    html = client.get(reverse("dashboard:summary"), HTTP_HX_REQUEST="true").content.decode()
    assert "<html" not in html
    assert 'Open incidents: <span class="num">0</span>' in html
    assert "No open high or medium incidents." in html
