"""The "Open in Defender" link: the stored ``incidentUri`` only when it is an https link to
DEFENDER_PORTAL_URL's host, else the link built from DEFENDER_PORTAL_URL (contract §5.3, §5.7),
in the list, the detail page and the export."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from django.urls import reverse

from dashboard.presenters import defender_url
from tests.factories import CustomerFactory, IncidentFactory

pytestmark = pytest.mark.django_db

GOOD = "https://security.microsoft.com/incidents/501?tid={tenant}"
# Stored URIs that must never become the link (each is replaced by the built one).
REJECTED = [
    "javascript:alert(1)",
    "JavaScript:alert(document.cookie)//https://security.microsoft.com/",
    "https://evil.example/incidents/501?tid={tenant}",
    "http://security.microsoft.com/incidents/501?tid={tenant}",
    "https://security.microsoft.com.evil.example/incidents/501",
    "https://security.microsoft.com@evil.example/incidents/501",
    "https://evil.example\\@security.microsoft.com/incidents/501",
    "https://soc@security.microsoft.com/incidents/501",
    "https://security.microsoft.com:8443/incidents/501",
    "https://security.microsoft.com:99999/incidents/501",
    "//evil.example/incidents/501",
    "/incidents/501",
    " https://evil.example/",
    "https://security.microsoft.com/incidents/501\n",
    "data:text/html,<script>alert(1)</script>",
]


@pytest.fixture(autouse=True)
def _portal(settings: Any) -> None:
    settings.DEFENDER_PORTAL_URL = "https://security.microsoft.com"


@pytest.mark.parametrize("stored", REJECTED)
def test_a_stored_uri_off_the_portal_is_replaced_by_the_built_link(
    customer_a: Any, stored: str
) -> None:
    tenant = customer_a.tenant_id
    incident = IncidentFactory(
        customer=customer_a, incident_id=501, incident_uri=stored.format(tenant=tenant)
    )
    assert defender_url(incident) == f"https://security.microsoft.com/incidents/501?tid={tenant}"


@pytest.mark.parametrize(
    "stored",
    [
        GOOD,
        "https://SECURITY.microsoft.com/incidents/501?tid={tenant}",
        "https://security.microsoft.com:443/incidents/501?tid={tenant}",
    ],
)
def test_a_stored_https_uri_on_the_portal_host_is_kept_as_sent(
    customer_a: Any, stored: str
) -> None:
    uri = stored.format(tenant=customer_a.tenant_id)
    incident = IncidentFactory(customer=customer_a, incident_id=501, incident_uri=uri)
    assert defender_url(incident) == uri


def test_the_link_follows_the_configured_portal_host(customer_a: Any, settings: Any) -> None:
    settings.DEFENDER_PORTAL_URL = "https://security.microsoft.us/"
    tenant = customer_a.tenant_id
    commercial = IncidentFactory(
        customer=customer_a, incident_id=7, incident_uri=GOOD.format(tenant=tenant)
    )
    gcc = IncidentFactory(
        customer=customer_a,
        incident_id=8,
        incident_uri=f"https://security.microsoft.us/incidents/8?tid={tenant}",
    )
    assert defender_url(commercial) == f"https://security.microsoft.us/incidents/7?tid={tenant}"
    assert defender_url(gcc) == f"https://security.microsoft.us/incidents/8?tid={tenant}"


def test_a_customer_without_tenant_id_gets_a_link_without_tid() -> None:
    incident = IncidentFactory(
        customer=CustomerFactory(name="Northwind"), incident_id=9, incident_uri=""
    )
    assert defender_url(incident) == "https://security.microsoft.com/incidents/9"


def _incidents(customer: Any) -> tuple[Any, Any, Any]:
    tenant = customer.tenant_id
    good = IncidentFactory(
        customer=customer, incident_id=501, incident_uri=GOOD.format(tenant=tenant)
    )
    script = IncidentFactory(customer=customer, incident_id=502, incident_uri="javascript:alert(1)")
    evil = IncidentFactory(
        customer=customer,
        incident_id=503,
        incident_uri=f"https://evil.example/incidents/503?tid={tenant}",
    )
    return good, script, evil


def test_list_and_detail_render_only_portal_links(
    client: Any, admin_user: Any, customer_a: Any
) -> None:
    good, script, evil = _incidents(customer_a)
    tenant = customer_a.tenant_id
    expected = {
        good: f"https://security.microsoft.com/incidents/501?tid={tenant}",
        script: f"https://security.microsoft.com/incidents/502?tid={tenant}",
        evil: f"https://security.microsoft.com/incidents/503?tid={tenant}",
    }
    client.force_login(admin_user)
    listing = client.get(reverse("dashboard:incidents")).content.decode()
    live = client.get(reverse("dashboard:incidents_live")).content.decode()
    for html in (listing, live):
        for href in expected.values():
            assert f'<a href="{href}" target="_blank"' in html
        assert "javascript:" not in html
        assert "evil.example" not in html
    for incident, href in expected.items():
        detail = client.get(reverse("dashboard:detail", args=[incident.pk])).content.decode()
        assert f'<a class="button primary" href="{href}" target="_blank"' in detail
        assert "javascript:" not in detail
        assert "evil.example" not in detail


def test_export_writes_only_portal_links(client: Any, admin_user: Any, customer_a: Any) -> None:
    _incidents(customer_a)
    tenant = customer_a.tenant_id
    client.force_login(admin_user)
    response = client.get(reverse("dashboard:export"))
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    links = [row[12] for row in csv.reader(io.StringIO(text))][1:]
    assert sorted(links) == [
        f"https://security.microsoft.com/incidents/{n}?tid={tenant}" for n in (501, 502, 503)
    ]
