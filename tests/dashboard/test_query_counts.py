"""Every dashboard page runs a fixed number of queries whatever the data size: the same count
for 2 and for 20 incidents/customers (issue 6, "Performance")."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from django.urls import reverse

from dashboard.pagination import Cursor
from sync.models import TenantSyncState
from tests.factories import AlertFactory, ConnectedCustomerFactory, IncidentFactory

pytestmark = pytest.mark.django_db

# Per request: session, user, user permissions, group permissions, then the page's own reads.
AUTH = 4


def _populate(size: int, analyst: Any) -> Any:
    """``size`` customers (all assigned to ``analyst``) with one open High incident each, and
    one incident with ``size`` alerts, each with devices and entities. Returns that incident."""
    first = None
    for n in range(size):
        customer = ConnectedCustomerFactory()
        customer.assigned_users.add(analyst)
        TenantSyncState.objects.create(customer=customer)
        incident = IncidentFactory(
            customer=customer,
            severity="High",
            status="Active",
            redirect_incident_id=1 if n == 0 else None,
        )
        first = first or incident
    for _ in range(size):
        AlertFactory(
            incident=first,
            devices=[{"deviceDnsName": "d"}],
            entities=[{"entityType": "Ip", "ipAddress": "10.0.0.1"}],
        )
    return first


PAGES: list[tuple[str, Callable[[Any], str], int]] = [
    # (page, url of the page for the populated incident, its own queries after AUTH)
    ("list", lambda i: reverse("dashboard:incidents"), 2),  # customer choices, one page
    (
        "list filtered + cursor",
        lambda i: (
            reverse("dashboard:incidents")
            + "?severity=High&q=suspicious&sort=severity&after="
            + Cursor("severity", (4, datetime(2099, 1, 1, tzinfo=UTC), 999999)).encode()
        ),
        2,
    ),
    # The 30-second refreshes read no customer names: the analyst's visible customer pks
    # (which also check a customer filter), then the page.
    ("table refresh partial", lambda i: reverse("dashboard:incidents_live"), 2),
    (
        "table refresh partial, customer filter",
        lambda i: reverse("dashboard:incidents_live") + f"?customer={i.customer_id}",
        2,
    ),
    (
        "summary partial",
        lambda i: reverse("dashboard:summary"),
        3,
    ),  # GROUP BY, top customers, chart (no customer query without a customer filter)
    (
        "summary partial, customer filter",
        lambda i: reverse("dashboard:summary") + f"?customer={i.customer_id}",
        4,
    ),  # the requested customers that are visible, GROUP BY, top customers, chart
    (
        "tenant overview",
        lambda i: reverse("dashboard:tenants"),
        2,
    ),  # customer and stale counts, one page of customers with open counts and sync state
    (
        "detail",
        lambda i: reverse("dashboard:detail", args=[i.pk]),
        3,
    ),  # incident, alerts, merge target
    ("raw payload", lambda i: reverse("dashboard:raw", args=[i.pk]), 2),
    ("export", lambda i: reverse("dashboard:export"), 2),  # visible customer pks, one chunk
]


@pytest.mark.parametrize(("page", "url", "own"), PAGES, ids=[p[0] for p in PAGES])
@pytest.mark.parametrize("size", [2, 20])
def test_query_count_does_not_grow_with_data(
    client: Any,
    analyst_a: Any,
    django_assert_num_queries: Any,
    page: str,
    url: Callable[[Any], str],
    own: int,
    size: int,
) -> None:
    incident = _populate(size, analyst_a)
    client.force_login(analyst_a)
    target = url(incident)
    with django_assert_num_queries(AUTH + own):
        response = client.get(target)
        if response.streaming:
            b"".join(response.streaming_content)
    assert response.status_code == 200


ADMIN_PAGES: list[tuple[str, Callable[[Any], str], int]] = [
    # (page, url for the first customer's pk, its own queries after AUTH) for a user who sees
    # every customer: no customer query unless a customer filter needs checking.
    ("list", lambda pk: reverse("dashboard:incidents"), 2),  # customer choices, one page
    ("table refresh partial", lambda pk: reverse("dashboard:incidents_live"), 1),  # the page
    (
        "table refresh partial, customer filter",
        lambda pk: reverse("dashboard:incidents_live") + f"?customer={pk}",
        2,
    ),  # the requested customers that exist, the page
    ("summary partial", lambda pk: reverse("dashboard:summary"), 3),
    (
        "summary partial, customer filter",
        lambda pk: reverse("dashboard:summary") + f"?customer={pk}",
        4,
    ),
    ("export", lambda pk: reverse("dashboard:export"), 1),  # one chunk
]


@pytest.mark.parametrize(("page", "url", "own"), ADMIN_PAGES, ids=[p[0] for p in ADMIN_PAGES])
def test_admin_pages_run_the_same_queries(
    client: Any,
    admin_user: Any,
    django_assert_num_queries: Any,
    page: str,
    url: Callable[[int], str],
    own: int,
) -> None:
    incidents = [IncidentFactory(severity="High", status="Active") for _ in range(5)]
    client.force_login(admin_user)
    target = url(incidents[0].customer_id)
    with django_assert_num_queries(AUTH + own):
        response = client.get(target)
        if response.streaming:
            b"".join(response.streaming_content)
    assert response.status_code == 200
