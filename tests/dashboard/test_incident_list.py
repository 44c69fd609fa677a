"""The incident list: filters, sorting, keyset paging, bad input, new high-severity marks."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from dashboard.pagination import Cursor
from tests.factories import AlertFactory, ConnectedCustomerFactory, IncidentFactory

pytestmark = pytest.mark.django_db
NOW = timezone.now()


def _names(response: Any) -> list[str]:
    """Incident names of the table rows, in order."""
    html = response.content.decode()
    return re.findall(r'<td class="name"><a href="[^"]+">([^<]+)</a>', html)


@pytest.fixture
def mixed(customer_a: Any, customer_b: Any) -> dict[str, Any]:
    """Six incidents of two customers with distinct severities, statuses and times."""
    data = {
        "old-high": dict(
            customer=customer_a,
            severity="High",
            status="Resolved",
            hours=50,
            updated=0,
            classification="TruePositive",
            assigned_to="soc@mssp.example",
            sources=["MicrosoftDefenderForEndpoint"],
            text="ps on ws-17 10.1.2.3",
        ),
        "new-low": dict(
            customer=customer_a,
            severity="Low",
            status="Active",
            hours=1,
            updated=1,
            classification="Unknown",
            assigned_to="",
            sources=["OfficeATP"],
            text="mail to alice@contoso.example",
        ),
        "mid-medium": dict(
            customer=customer_b,
            severity="Medium",
            status="InProgress",
            hours=10,
            updated=9,
            classification="FalsePositive",
            assigned_to="bob@mssp.example",
            sources=["MicrosoftDefenderForEndpoint", "OfficeATP"],
            text="ws-99",
        ),
        "info": dict(
            customer=customer_b,
            severity="Informational",
            status="Active",
            hours=20,
            updated=2,
            classification="Unknown",
            assigned_to="",
            sources=[],
            text="x",
        ),
        "new-high": dict(
            customer=customer_b,
            severity="High",
            status="Active",
            hours=2,
            updated=30,
            classification="Unknown",
            assigned_to="",
            sources=[],
            text="ransom 10.9.9.9",
        ),
        "unspecified": dict(
            customer=customer_a,
            severity="UnSpecified",
            status="Redirected",
            hours=5,
            updated=3,
            classification="",
            assigned_to="",
            sources=[],
            text="y",
        ),
    }
    made = {}
    for name, d in data.items():
        created = NOW - timedelta(hours=d["hours"])
        made[name] = IncidentFactory(
            customer=d["customer"],
            name=name,
            severity=d["severity"],
            status=d["status"],
            classification=d["classification"],
            assigned_to=d["assigned_to"],
            service_sources=d["sources"],
            service_sources_key="|" + "|".join(d["sources"]) + "|" if d["sources"] else "",
            search_text=f"{name} {d['text']}",
            created_time=created,
            last_update_time=NOW - timedelta(minutes=d["updated"]),
        )
    return made


def test_default_order_is_newest_created_first(client: Any, admin_user: Any, mixed: Any) -> None:
    client.force_login(admin_user)
    response = client.get(reverse("dashboard:incidents"))
    assert _names(response) == [
        "new-low",
        "new-high",
        "unspecified",
        "mid-medium",
        "info",
        "old-high",
    ]


def test_sort_by_severity_then_newest(client: Any, admin_user: Any, mixed: Any) -> None:
    client.force_login(admin_user)
    response = client.get(reverse("dashboard:incidents"), {"sort": "severity"})
    assert _names(response) == [
        "new-high",
        "old-high",
        "mid-medium",
        "new-low",
        "info",
        "unspecified",
    ]
    assert 'aria-sort="descending"><a class="sort active" href="?sort=severity">Severity' in (
        response.content.decode()
    )


def test_sort_by_last_updated(client: Any, admin_user: Any, mixed: Any) -> None:
    client.force_login(admin_user)
    response = client.get(reverse("dashboard:incidents"), {"sort": "updated"})
    assert _names(response) == [
        "old-high",
        "new-low",
        "info",
        "unspecified",
        "mid-medium",
        "new-high",
    ]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"severity": ["High"]}, ["new-high", "old-high"]),
        ({"severity": ["High", "Low"]}, ["new-low", "new-high", "old-high"]),
        ({"status": ["Active", "InProgress"]}, ["new-low", "new-high", "mid-medium", "info"]),
        ({"classification": "FalsePositive"}, ["mid-medium"]),
        ({"assigned": "unassigned"}, ["new-low", "new-high", "unspecified", "info"]),
        ({"assigned": "Unassigned"}, ["new-low", "new-high", "unspecified", "info"]),
        ({"assigned": "soc@mssp.example"}, ["old-high"]),
        ({"source": "OfficeATP"}, ["new-low", "mid-medium"]),
        ({"source": "MicrosoftDefenderForEndpoint"}, ["mid-medium", "old-high"]),
        ({"q": "WS-"}, ["mid-medium", "old-high"]),
        ({"q": "10.9.9.9"}, ["new-high"]),
        ({"q": "100%"}, []),
        ({"severity": "High", "status": "Active"}, ["new-high"]),
        (
            {"status": "Active", "assigned": "unassigned", "severity": ["Low", "Informational"]},
            ["new-low", "info"],
        ),
    ],
)
def test_filters_combine(
    client: Any, admin_user: Any, mixed: Any, params: dict, expected: list[str]
) -> None:
    client.force_login(admin_user)
    response = client.get(reverse("dashboard:incidents"), params)
    assert _names(response) == expected
    assert b"is not one you can filter on" not in response.content


def test_customer_filter_takes_several(
    client: Any, admin_user: Any, mixed: Any, customer_a: Any, customer_b: Any
) -> None:
    other = ConnectedCustomerFactory(name="Northwind")
    IncidentFactory(customer=other, name="northwind-one")
    client.force_login(admin_user)
    only_a = client.get(reverse("dashboard:incidents"), {"customer": customer_a.pk})
    assert _names(only_a) == ["new-low", "unspecified", "old-high"]
    both = client.get(reverse("dashboard:incidents"), {"customer": [customer_a.pk, customer_b.pk]})
    assert "northwind-one" not in _names(both)
    assert len(_names(both)) == 6


def test_created_and_updated_ranges(client: Any, admin_user: Any, mixed: Any) -> None:
    client.force_login(admin_user)
    day = (NOW - timedelta(hours=50)).date().isoformat()
    created = client.get(
        reverse("dashboard:incidents"), {"date_field": "created", "start": day, "end": day}
    )
    assert "old-high" in _names(created)
    assert "new-low" not in _names(created) or NOW.date().isoformat() == day
    today = NOW.date().isoformat()
    updated = client.get(
        reverse("dashboard:incidents"), {"date_field": "updated", "start": today, "end": today}
    )
    assert set(_names(updated)) >= {"old-high", "new-low"}


def test_filter_state_is_kept_in_links(
    client: Any, admin_user: Any, mixed: Any, settings: Any
) -> None:
    settings.DASHBOARD_PAGE_SIZE = 2
    client.force_login(admin_user)
    response = client.get(
        reverse("dashboard:incidents"), {"status": ["Active", "InProgress"], "q": "e"}
    )
    html = response.content.decode()
    assert 'href="?status=Active&amp;status=InProgress&amp;q=e&amp;sort=severity"' in html
    assert 'rel="next" href="?status=Active&amp;status=InProgress&amp;q=e&amp;after=' in html
    assert 'hx-get="/incidents/live/?status=Active&amp;status=InProgress&amp;q=e&amp;since=' in html
    assert "/incidents/export.csv?status=Active&amp;status=InProgress&amp;q=e" in html
    assert 'value="Active" checked' in html and 'value="e"' in html


@pytest.mark.parametrize("sort", ["created", "updated", "severity"])
def test_keyset_pages_walk_the_whole_list_once(
    client: Any, admin_user: Any, customer_a: Any, settings: Any, sort: str
) -> None:
    settings.DASHBOARD_PAGE_SIZE = 3
    same_time = NOW - timedelta(hours=1)
    for n in range(8):  # equal timestamps: the id tiebreaker must keep order stable
        IncidentFactory(
            customer=customer_a,
            name=f"inc-{n}",
            severity=["High", "Low"][n % 2],
            created_time=same_time,
            last_update_time=same_time,
        )
    client.force_login(admin_user)
    url = reverse("dashboard:incidents") + ("" if sort == "created" else f"?sort={sort}")
    seen: list[str] = []
    pages = 0
    while url:
        response = client.get(url)
        seen += _names(response)
        pages += 1
        match = re.search(r'rel="next" href="([^"]+)"', response.content.decode())
        url = reverse("dashboard:incidents") + match.group(1).replace("&amp;", "&") if match else ""
    assert pages == 3
    assert sorted(seen) == sorted(f"inc-{n}" for n in range(8))
    assert len(seen) == 8
    if sort == "severity":
        assert seen[:4] == ["inc-6", "inc-4", "inc-2", "inc-0"]


@pytest.mark.parametrize(
    "cursor",
    [
        "garbage!!",
        "eyJub3QiOiAiYSBsaXN0In0",  # {"not": "a list"}
        Cursor("severity", (4, NOW, 1)).encode(),  # cursor of another sort
        "WyJjcmVhdGVkIiwgIm5vdCBhIGRhdGUiLCAxXQ",  # ["created", "not a date", 1]
        "WyJjcmVhdGVkIiwgIjIwMjUtMDEtMDFUMDA6MDA6MDAiLCAxXQ",  # naive timestamp
        "WyJjcmVhdGVkIiwgIjIwMjUtMDEtMDFUMDA6MDA6MDArMDA6MDAiLCAiMSBPUiAxPTEiXQ",  # id is text
        "x" * 300,
    ],
    # Stable ids: the other-sort cursor holds the time of import, which differs between
    # pytest-xdist workers, and they must collect the same test names.
    ids=[
        "not-base64",
        "not-a-list",
        "another-sort",
        "bad-timestamp",
        "naive-timestamp",
        "text-id",
        "too-long",
    ],
)
def test_a_tampered_cursor_shows_the_first_page_with_a_message(
    client: Any, admin_user: Any, mixed: Any, cursor: str
) -> None:
    client.force_login(admin_user)
    response = client.get(reverse("dashboard:incidents"), {"after": cursor})
    assert response.status_code == 200
    assert _names(response)[0] == "new-low"
    assert "The page link was not valid" in response.content.decode()


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"severity": "Critical"}, "Severity: “Critical” is not one you can filter on."),
        ({"status": "Open"}, "Status: “Open” is not one you can filter on."),
        ({"customer": "abc"}, "Customers: “abc” is not one you can filter on."),
        ({"customer": "999999"}, "Customers: “999999” is not one you can filter on."),
        ({"classification": "Bogus"}, "Classification: Select a valid choice."),
        ({"sort": "name"}, "Sort: Select a valid choice."),
        ({"start": "2025-13-40"}, "From: Enter a valid date."),
        ({"start": "2025-03-02", "end": "2025-03-01"}, "From is after To"),
        ({"start": "2020-01-01", "end": "2025-01-01"}, "Date ranges are at most 366 days"),
        ({"source": "<script>"}, "Service source names are letters and digits only."),
        ({"q": "x" * 201}, "Search: Ensure this value has at most 200 characters"),
    ],
)
def test_invalid_filters_are_ignored_with_a_visible_message(
    client: Any, admin_user: Any, mixed: Any, params: dict, message: str
) -> None:
    client.force_login(admin_user)
    response = client.get(reverse("dashboard:incidents"), params)
    assert response.status_code == 200
    assert message in response.content.decode()
    assert len(_names(response)) == 6


def test_valid_filters_still_apply_when_one_is_invalid(
    client: Any, admin_user: Any, mixed: Any
) -> None:
    client.force_login(admin_user)
    response = client.get(reverse("dashboard:incidents"), {"severity": ["High", "Critical"]})
    assert _names(response) == ["new-high", "old-high"]


def test_list_shows_the_columns_and_defender_link(
    client: Any, admin_user: Any, customer_a: Any
) -> None:
    incident = IncidentFactory(
        customer=customer_a,
        incident_id=48240,
        name="Malicious attachment",
        severity="High",
        status="InProgress",
        classification="TruePositive",
        determination="Malware",
        assigned_to="soc@fabrikam.example",
        alert_count=3,
        service_sources=["MicrosoftDefenderForEndpoint"],
        incident_uri="https://security.microsoft.com/incidents/48240?tid=abc",
    )
    built = IncidentFactory(customer=customer_a, incident_id=77, incident_uri="")
    client.force_login(admin_user)
    html = client.get(reverse("dashboard:incidents")).content.decode()
    assert 'href="https://security.microsoft.com/incidents/48240?tid=abc"' in html
    assert f'href="https://security.microsoft.com/incidents/77?tid={customer_a.tenant_id}"' in html
    assert (
        f'href="{reverse("dashboard:detail", args=[incident.pk])}">Malicious attachment</a>' in html
    )
    for text in (
        "#48240",
        "In progress",
        "True positive",
        "Malware",
        "soc@fabrikam.example",
        '<td class="num">3</td>',
        'title="Defender for Endpoint">MDE</abbr>',
        "Contoso",
    ):
        assert text in html
    assert built.pk


def test_empty_list_says_so(client: Any, admin_user: Any) -> None:
    client.force_login(admin_user)
    html = client.get(reverse("dashboard:incidents")).content.decode()
    assert "No incidents match these filters." in html
    assert 'rel="next"' not in html


def test_new_high_incidents_since_page_load_are_marked(
    client: Any, admin_user: Any, mixed: Any
) -> None:
    client.force_login(admin_user)
    page = client.get(reverse("dashboard:incidents")).content.decode()
    assert "new-high" not in re.findall(r'<tr class="([^"]*)"', page)
    since = re.search(r"since=([^\"&]+)", page).group(1)
    fresh = IncidentFactory(customer=mixed["new-low"].customer, name="fresh-high", severity="High")
    IncidentFactory(customer=mixed["new-low"].customer, name="fresh-low", severity="Low")
    live = client.get(
        reverse("dashboard:incidents_live") + f"?since={since}", HTTP_HX_REQUEST="true"
    )
    html = live.content.decode()
    assert f'<tr class="new-high" data-incident="{fresh.pk}">' in html
    assert html.count('<tr class="new-high"') == 1
    assert "1 new high-severity incident since" in html
    assert 'fresh-high</a><span class="new-marker">NEW</span>' in html


def test_live_partial_keeps_filters_and_page(client: Any, admin_user: Any, mixed: Any) -> None:
    client.force_login(admin_user)
    live = client.get(reverse("dashboard:incidents_live"), {"severity": "High"})
    assert _names(live) == ["new-high", "old-high"]
    assert 'hx-get="/incidents/live/?severity=High&amp;since=' in live.content.decode()
    assert "<html" not in live.content.decode()


def test_alert_titles_are_searchable_through_search_text(
    client: Any, admin_user: Any, customer_a: Any
) -> None:
    incident = IncidentFactory(customer=customer_a, name="x", search_text="x suspicious powershell")
    AlertFactory(incident=incident)
    client.force_login(admin_user)
    response = client.get(reverse("dashboard:incidents"), {"q": "PowerShell"})
    assert _names(response) == ["x"]


@pytest.mark.parametrize("sort", ["created", "updated", "severity"])
def test_an_analysts_pages_merge_their_customers_in_order(
    client: Any, analyst_a: Any, customer_a: Any, customer_b: Any, settings: Any, sort: str
) -> None:
    """The per-customer merge (PostgreSQL) pages like the single scan: every row once, in order."""
    settings.DASHBOARD_PAGE_SIZE = 2
    second = ConnectedCustomerFactory(name="Northwind")
    second.assigned_users.add(analyst_a)
    for n in range(9):
        IncidentFactory(
            customer=[customer_a, second, customer_b][n % 3],
            name=f"m{n}",
            severity=["High", "Medium", "Low"][n % 3 if n < 6 else 0],
            created_time=NOW - timedelta(minutes=n),
            last_update_time=NOW - timedelta(minutes=10 - n),
        )
    client.force_login(analyst_a)
    url = reverse("dashboard:incidents") + f"?sort={sort}"
    seen: list[str] = []
    while url:
        response = client.get(url)
        seen += _names(response)
        match = re.search(r'rel="next" href="([^"]+)"', response.content.decode())
        url = reverse("dashboard:incidents") + match.group(1).replace("&amp;", "&") if match else ""
    expected = {
        "created": ["m0", "m1", "m3", "m4", "m6", "m7"],
        "updated": ["m7", "m6", "m4", "m3", "m1", "m0"],
        "severity": ["m0", "m3", "m6", "m7", "m1", "m4"],
    }[sort]
    assert seen == expected


@pytest.mark.parametrize("sort", ["created", "updated", "severity"])
def test_an_analysts_free_text_search_pages_through_their_customers_only(
    client: Any, analyst_a: Any, customer_a: Any, customer_b: Any, settings: Any, sort: str
) -> None:
    """Free text reads the analyst's customers by a literal list (PostgreSQL) and pages like
    the plain list: every match once, in order, none of another customer's."""
    settings.DASHBOARD_PAGE_SIZE = 2
    second = ConnectedCustomerFactory(name="Northwind")
    second.assigned_users.add(analyst_a)
    for n in range(12):
        IncidentFactory(
            customer=[customer_a, second, customer_b][n % 3],
            name=f"t{n}",
            severity=["High", "Medium", "Low"][n % 4 % 3],
            search_text=f"t{n} " + ("host-17.needle.example" if n % 4 else "other"),
            created_time=NOW - timedelta(minutes=n),
            last_update_time=NOW - timedelta(minutes=20 - n),
        )
    client.force_login(analyst_a)
    url = reverse("dashboard:incidents") + f"?q=Host-17.NEEDLE&sort={sort}"
    seen: list[str] = []
    while url:
        response = client.get(url)
        seen += _names(response)
        match = re.search(r'rel="next" href="([^"]+)"', response.content.decode())
        url = reverse("dashboard:incidents") + match.group(1).replace("&amp;", "&") if match else ""
    # Matches (n % 4 != 0) of Contoso and Northwind (n % 3 != 2): 1, 3, 6, 7, 9, 10.
    expected = {
        "created": ["t1", "t3", "t6", "t7", "t9", "t10"],
        "updated": ["t10", "t9", "t7", "t6", "t3", "t1"],
        "severity": ["t3", "t7", "t1", "t9", "t6", "t10"],
    }[sort]
    assert seen == expected
