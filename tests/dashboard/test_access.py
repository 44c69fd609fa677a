"""Access matrix: no page, partial, export, filter or crafted URL shows one customer's data to
an analyst of another (issue 6, "Sign-in and access")."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db

CONTOSO_NAME = "Contoso ransomware on fin-ws-01"
FABRIKAM_NAME = "Fabrikam phishing mail delivered"


def _body(response: Any) -> str:
    if response.streaming:
        return b"".join(response.streaming_content).decode()
    return response.content.decode()


def _list_pages(a: Any, b: Any) -> list[str]:
    """Every URL that lists incidents, plain and with crafted filters naming both customers."""
    urls = []
    for name in ("dashboard:incidents", "dashboard:incidents_live", "dashboard:export"):
        base = reverse(name)
        urls += [
            base,
            f"{base}?customer={a.customer.pk}",
            f"{base}?customer={b.customer.pk}",
            f"{base}?customer={a.customer.pk}&customer={b.customer.pk}",
            f"{base}?q=ransomware",
            f"{base}?q=phishing",
            f"{base}?sort=severity",
        ]
    return urls


@pytest.mark.parametrize(
    ("persona", "sees_contoso", "sees_fabrikam"),
    [
        ("admin_user", True, True),
        ("analyst_a", True, False),
        ("analyst_b", False, True),
    ],
)
def test_lists_exports_and_partials_show_exactly_the_visible_customers(
    client: Any,
    request: pytest.FixtureRequest,
    incident_a: Any,
    incident_b: Any,
    persona: str,
    sees_contoso: bool,
    sees_fabrikam: bool,
) -> None:
    client.force_login(request.getfixturevalue(persona))
    for url in _list_pages(incident_a, incident_b):
        response = client.get(url)
        assert response.status_code == 200, url
        body = _body(response)
        if not sees_contoso:
            assert CONTOSO_NAME not in body, url
            assert "Contoso" not in body, url
        if not sees_fabrikam:
            assert FABRIKAM_NAME not in body, url
            assert "Fabrikam" not in body, url
    unfiltered = _body(client.get(reverse("dashboard:incidents")))
    assert (CONTOSO_NAME in unfiltered) is sees_contoso
    assert (FABRIKAM_NAME in unfiltered) is sees_fabrikam


@pytest.mark.parametrize(
    ("persona", "sees_contoso", "sees_fabrikam"),
    [("admin_user", True, True), ("analyst_a", True, False), ("analyst_b", False, True)],
)
def test_summary_and_tenant_overview_show_only_visible_customers(
    client: Any,
    request: pytest.FixtureRequest,
    incident_a: Any,
    incident_b: Any,
    persona: str,
    sees_contoso: bool,
    sees_fabrikam: bool,
) -> None:
    client.force_login(request.getfixturevalue(persona))
    for url in (
        reverse("dashboard:summary"),
        reverse("dashboard:summary") + f"?customer={incident_b.customer.pk}",
        reverse("dashboard:summary") + f"?customer={incident_a.customer.pk}",
        reverse("dashboard:tenants"),
    ):
        body = _body(client.get(url))
        if not sees_contoso:
            assert "Contoso" not in body, url
        if not sees_fabrikam:
            assert "Fabrikam" not in body, url
    overview = _body(client.get(reverse("dashboard:tenants")))
    assert ("Contoso" in overview) is sees_contoso
    assert ("Fabrikam" in overview) is sees_fabrikam


@pytest.mark.parametrize(
    ("persona", "contoso_status", "fabrikam_status"),
    [("admin_user", 200, 200), ("analyst_a", 200, 404), ("analyst_b", 404, 200)],
)
def test_detail_and_raw_payload_are_404_for_an_invisible_customer(
    client: Any,
    request: pytest.FixtureRequest,
    incident_a: Any,
    incident_b: Any,
    persona: str,
    contoso_status: int,
    fabrikam_status: int,
) -> None:
    client.force_login(request.getfixturevalue(persona))
    for incident, expected in ((incident_a, contoso_status), (incident_b, fabrikam_status)):
        for name in ("dashboard:detail", "dashboard:raw"):
            response = client.get(reverse(name, args=[incident.pk]))
            assert response.status_code == expected, (name, incident.name)
        htmx = client.get(reverse("dashboard:raw", args=[incident.pk]), HTTP_HX_REQUEST="true")
        assert htmx.status_code == expected


def test_a_filter_naming_another_customer_is_ignored_with_a_message(
    client: Any, analyst_a: Any, incident_a: Any, incident_b: Any
) -> None:
    client.force_login(analyst_a)
    response = client.get(reverse("dashboard:incidents"), {"customer": incident_b.customer.pk})
    body = response.content.decode()
    assert response.status_code == 200
    assert f"Customers: “{incident_b.customer.pk}” is not one you can filter on." in body
    assert CONTOSO_NAME in body  # the filter was dropped, not turned into "everything"
    assert "Fabrikam" not in body


def test_merge_target_of_another_customer_is_not_linked(
    client: Any, analyst_a: Any, customer_a: Any, incident_b: Any
) -> None:
    from tests.factories import IncidentFactory

    merged = IncidentFactory(
        customer=customer_a,
        status="Redirected",
        redirect_incident_id=incident_b.incident_id,
    )
    client.force_login(analyst_a)
    body = client.get(reverse("dashboard:detail", args=[merged.pk])).content.decode()
    assert reverse("dashboard:detail", args=[incident_b.pk]) not in body
    assert FABRIKAM_NAME not in body
    assert "which has not been synced yet" in body


ALL_PAGES = [
    ("dashboard:incidents", False),
    ("dashboard:incidents_live", False),
    ("dashboard:summary", False),
    ("dashboard:export", False),
    ("dashboard:tenants", False),
    ("dashboard:detail", True),
    ("dashboard:raw", True),
]


@pytest.mark.parametrize(("name", "needs_pk"), ALL_PAGES)
def test_anonymous_users_are_sent_to_sign_in(
    client: Any, incident_a: Any, name: str, needs_pk: bool
) -> None:
    url = reverse(name, args=[incident_a.pk] if needs_pk else [])
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login") + "?next=")


@pytest.mark.parametrize(("name", "needs_pk"), ALL_PAGES)
def test_htmx_requests_of_an_expired_session_redirect_the_whole_page(
    client: Any, incident_a: Any, name: str, needs_pk: bool
) -> None:
    url = reverse(name, args=[incident_a.pk] if needs_pk else [])
    response = client.get(url, HTTP_HX_REQUEST="true")
    assert response.status_code == 401
    assert response["HX-Redirect"] == reverse("login")
    assert b"Contoso" not in response.content


@pytest.mark.parametrize(("name", "needs_pk"), ALL_PAGES)
def test_users_without_the_incident_permission_are_refused(
    client: Any, outsider: Any, incident_a: Any, name: str, needs_pk: bool
) -> None:
    client.force_login(outsider)
    response = client.get(reverse(name, args=[incident_a.pk] if needs_pk else []))
    assert response.status_code == 403
    assert b"Contoso" not in response.content


def test_an_analyst_granted_all_customers_sees_both(
    client: Any, analyst_a: Any, incident_a: Any, incident_b: Any
) -> None:
    from django.contrib.auth.models import Permission

    analyst_a.user_permissions.add(Permission.objects.get(codename="view_all_customers"))
    client.force_login(analyst_a)
    body = client.get(reverse("dashboard:incidents")).content.decode()
    assert CONTOSO_NAME in body
    assert FABRIKAM_NAME in body


def test_inactive_users_see_nothing(client: Any, analyst_a: Any, incident_a: Any) -> None:
    client.force_login(analyst_a)
    analyst_a.is_active = False
    analyst_a.save()
    response = client.get(reverse("dashboard:incidents"))
    assert CONTOSO_NAME.encode() not in response.content


@pytest.mark.parametrize(
    "visible_ids",
    [None, "own", "forged"],
    ids=["no-visible-ids", "own-customers", "forged-visible-ids"],
)
def test_free_text_search_stays_in_scope_whatever_the_caller_passes(
    analyst_a: Any, incident_a: Any, incident_b: Any, visible_ids: str | None
) -> None:
    """The free-text page reads candidate customers by a literal list, but its rows are still
    scoped to the user: filters or ``visible_ids`` naming another customer show nothing of it."""
    from dashboard.filters import IncidentFilters
    from dashboard.selectors import incident_page

    ids = {
        None: None,
        "own": [incident_a.customer_id],
        "forged": [incident_a.customer_id, incident_b.customer_id],
    }[visible_ids]
    for filters, expected in (
        (IncidentFilters(q="phishing"), []),
        (IncidentFilters(q="fabrikam", customer_ids=(incident_b.customer_id,)), []),
        (IncidentFilters(q="ransomware"), [CONTOSO_NAME]),
    ):
        page = incident_page(analyst_a, filters, cursor=None, size=10, visible_ids=ids)
        assert [row.name for row in page.rows] == expected


@pytest.mark.parametrize(
    ("persona", "requested", "allowed", "visible", "queries"),
    [
        ("admin_user", [], [], None, 0),
        ("admin_user", ["a", "b", "missing"], ["a", "b"], None, 1),
        ("analyst_a", [], [], ["a"], 1),
        ("analyst_a", ["a", "b", "missing"], ["a"], ["a"], 1),
        ("analyst_b", ["a"], [], ["b"], 1),
        ("outsider", ["a", "b"], [], [], 1),
    ],
)
def test_customer_scope_checks_requested_customers_without_loading_names(
    request: pytest.FixtureRequest,
    django_assert_num_queries: Any,
    customer_a: Any,
    customer_b: Any,
    persona: str,
    requested: list[str],
    allowed: list[str],
    visible: list[str] | None,
    queries: int,
) -> None:
    """What the refresh partials and the export read instead of the named customer list."""
    from dashboard.selectors import customer_scope

    pks = {"a": customer_a.pk, "b": customer_b.pk, "missing": customer_b.pk + 1000}
    user = request.getfixturevalue(persona)
    user.has_perm("tenants.view_all_customers")  # load the permission cache first
    with django_assert_num_queries(queries):
        scope = customer_scope(user, [pks[k] for k in requested])
    assert sorted(scope.allowed) == sorted(pks[k] for k in allowed)
    assert scope.visible_ids == (None if visible is None else [pks[k] for k in visible])


def test_the_table_refresh_applies_or_drops_a_customer_filter_like_the_page(
    client: Any, admin_user: Any, analyst_a: Any, incident_a: Any, incident_b: Any
) -> None:
    live = reverse("dashboard:incidents_live")
    client.force_login(admin_user)
    body = _body(client.get(live, {"customer": incident_b.customer.pk}))
    assert FABRIKAM_NAME in body
    assert CONTOSO_NAME not in body
    client.force_login(analyst_a)
    body = _body(client.get(live, {"customer": incident_b.customer.pk}))
    assert CONTOSO_NAME in body  # dropped, as on the full page, not turned into "nothing"
    assert "Fabrikam" not in body


def test_the_summary_refresh_applies_or_drops_a_customer_filter_like_the_page(
    client: Any, admin_user: Any, analyst_a: Any, incident_a: Any, incident_b: Any
) -> None:
    summary = reverse("dashboard:summary")
    client.force_login(admin_user)
    body = _body(client.get(summary, {"customer": incident_b.customer.pk}))
    assert ">Fabrikam</a>" in body
    assert "Contoso" not in body
    assert "selected customers" in body
    client.force_login(analyst_a)
    body = _body(client.get(summary, {"customer": incident_b.customer.pk}))
    assert ">Contoso</a>" in body
    assert "Fabrikam" not in body
    assert "selected customers" not in body
