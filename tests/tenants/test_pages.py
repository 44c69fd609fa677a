"""The customer pages for MSSP administrators: list, add, edit, tenant page, re-check, new link,
manual tenant entry, settings page, and off-site ``next`` values."""

from __future__ import annotations

import pytest
from django.test import Client

from microsoft import errors
from onboarding import links
from onboarding.models import OnboardingLink, PendingTenant
from tenants import services
from tenants.models import AuditAction, AuditEvent, ConsentState, Customer
from tests import factories
from tests.onboarding.fakes import TENANT

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client: Client, admin_user) -> Client:
    client.force_login(admin_user)
    return client


def test_customer_list_shows_state_badges_with_bounded_queries(
    admin_client: Client, django_assert_max_num_queries
) -> None:
    for n in range(30):
        factories.CustomerFactory(name=f"Pending {n:02d}")
    factories.ConnectedCustomerFactory(name="Connected One")
    factories.CustomerFactory(
        name="Broken",
        consent_state=ConsentState.ERROR,
        last_error_code="AADSTS700016",
        last_error="The application was not found in the customer's tenant.",
    )
    with django_assert_max_num_queries(7):
        response = admin_client.get("/customers/")
    body = response.content.decode()
    assert body.count('data-state="pending"') == 30
    assert 'data-state="connected"' in body and 'data-state="error"' in body
    assert (
        "The application was not found in the customer&#x27;s tenant.</span> "
        '<code class="muted">AADSTS700016</code>'
    ) in body
    assert "Add a customer" in body


def test_customer_list_filters_by_state(admin_client: Client) -> None:
    factories.CustomerFactory(name="Waiting Co")
    factories.ConnectedCustomerFactory(name="Linked Co")
    body = admin_client.get("/customers/?state=connected").content.decode()
    assert "Linked Co" in body and "Waiting Co" not in body


def test_adding_a_customer_creates_its_onboarding_link(admin_client: Client, admin_user) -> None:
    response = admin_client.post(
        "/customers/new/",
        {
            "name": "  Tailspin   Toys ",
            "primary_domain": "Tailspin.Example.",
            "contacts": "Jo Admin <jo@tailspin.example>",
            "notes": "Signed 2025-06",
        },
    )
    customer = Customer.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/customers/{customer.pk}/"
    assert customer.name == "Tailspin Toys"
    assert customer.primary_domain == "tailspin.example"
    assert customer.consent_state == ConsentState.PENDING
    assert customer.created_by == admin_user
    link = OnboardingLink.objects.get(customer=customer)
    page = admin_client.get(response["Location"]).content.decode()
    assert links.link_url(link) in page
    assert list(
        AuditEvent.objects.filter(customer=customer).order_by("id").values_list("action", "actor")
    ) == [
        (AuditAction.CUSTOMER_CREATED, admin_user.pk),
        (AuditAction.LINK_CREATED, admin_user.pk),
    ]


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({"name": "contoso"}, "A customer with this name already exists."),
        ({"name": "   "}, "This field is required."),
        ({"name": "New", "primary_domain": "not a domain"}, "Enter a domain name"),
        ({"name": "New", "primary_domain": "https://evil.example/"}, "Enter a domain name"),
    ],
)
def test_bad_customer_input_is_refused(admin_client: Client, customer_a, data, error) -> None:
    response = admin_client.post("/customers/new/", data)
    assert response.status_code == 200
    assert error in response.content.decode()
    assert Customer.objects.count() == 1


def test_editing_a_customer_is_audited(admin_client: Client, customer_a) -> None:
    admin_client.post(
        f"/customers/{customer_a.pk}/edit/",
        {"name": "Contoso Ltd", "primary_domain": "", "contacts": "", "notes": "VIP"},
    )
    customer_a.refresh_from_db()
    assert customer_a.name == "Contoso Ltd" and customer_a.notes == "VIP"
    event = AuditEvent.objects.get(action=AuditAction.CUSTOMER_UPDATED)
    assert event.detail == {"fields": ["name", "primary_domain", "notes"]}


def test_new_link_revokes_the_old_one(admin_client: Client, customer_a) -> None:
    old = links.issue_link(customer=customer_a, actor_label="test")
    response = admin_client.post(f"/customers/{customer_a.pk}/link/")
    assert response.status_code == 302
    old.refresh_from_db()
    assert old.revoked_at is not None
    new = links.active_link(customer_a)
    assert new is not None and new != old
    body = admin_client.get(f"/customers/{customer_a.pk}/").content.decode()
    assert links.link_url(new) in body and links.link_url(old) not in body


def test_tenant_page_shows_token_error_in_plain_words_with_aadsts_code(
    admin_client: Client, customer_a, fake_microsoft
) -> None:
    fake_microsoft.token_error = errors.ConsentMissingError(
        "The portal's application has no service principal in this tenant.", aadsts=7000229
    )
    response = admin_client.post(f"/customers/{customer_a.pk}/recheck/", follow=True)
    body = response.content.decode()
    assert "Not connected (AADSTS7000229)" in body  # the message after the re-check
    assert (
        "<code>AADSTS7000229</code> The portal&#x27;s application has no service principal" in body
    )
    assert "Consent revoked" in body
    assert "Send the customer a new onboarding link" in body
    assert fake_microsoft.token_calls == [(str(customer_a.tenant_id), True)]


def test_recheck_reconnects_and_lists_roles(admin_client: Client, fake_microsoft) -> None:
    customer = factories.ConnectedCustomerFactory(
        name="Revoked Co", consent_state=ConsentState.CONSENT_REVOKED, granted_roles=[]
    )
    fake_microsoft.roles = ["Incident.Read.All", "AdvancedHunting.Read.All"]
    body = admin_client.post(f"/customers/{customer.pk}/recheck/", follow=True).content.decode()
    assert "Revoked Co is connected (roles: AdvancedHunting.Read.All, Incident.Read.All)" in body
    customer.refresh_from_db()
    assert customer.consent_state == ConsentState.CONNECTED


def test_recheck_without_any_tenant_id_says_so(admin_client: Client, fake_microsoft) -> None:
    customer = factories.CustomerFactory(name="New Co")
    body = admin_client.post(f"/customers/{customer.pk}/recheck/", follow=True).content.decode()
    assert "This customer has no tenant ID yet" in body
    assert fake_microsoft.token_calls == []


def test_recheck_retries_the_pending_tenant(admin_client: Client, fake_microsoft) -> None:
    customer = factories.CustomerFactory(name="New Co")
    PendingTenant.objects.create(customer=customer, tenant_id=TENANT, source="callback")
    page = admin_client.get(f"/customers/{customer.pk}/").content.decode()
    assert f'<code id="pending-tenant-id">{TENANT}</code>' in page
    admin_client.post(f"/customers/{customer.pk}/recheck/")
    customer.refresh_from_db()
    assert str(customer.tenant_id) == TENANT
    assert not PendingTenant.objects.exists()


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x", "http:evil"])
def test_recheck_never_follows_an_off_site_next(
    admin_client: Client, customer_a, fake_microsoft, target: str
) -> None:
    response = admin_client.post(f"/customers/{customer_a.pk}/recheck/?next={target}")
    assert response["Location"] == f"/customers/{customer_a.pk}/"
    response = admin_client.post(f"/customers/{customer_a.pk}/recheck/", {"next": target})
    assert response["Location"] == f"/customers/{customer_a.pk}/"


def test_recheck_follows_a_same_site_next(admin_client: Client, customer_a, fake_microsoft) -> None:
    response = admin_client.post(f"/customers/{customer_a.pk}/recheck/", {"next": "/tenants/"})
    assert response["Location"] == "/tenants/"


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example", "/\\evil.example"])
def test_login_never_redirects_off_site(client: Client, analyst_a, target: str) -> None:
    response = client.post(
        f"/accounts/login/?next={target}",
        {"username": analyst_a.username, "password": "correct-horse-battery", "next": target},
    )
    assert response.status_code == 302
    assert response["Location"] == "/"


def test_manual_tenant_entry_links_and_confirms(
    admin_client: Client, admin_user, fake_microsoft
) -> None:
    customer = factories.CustomerFactory(name="Manual Co")
    response = admin_client.post(
        f"/customers/{customer.pk}/connect/", {"tenant_or_domain": TENANT.upper()}, follow=True
    )
    assert "Manual Co is connected" in response.content.decode()
    customer.refresh_from_db()
    assert str(customer.tenant_id) == TENANT
    linked = AuditEvent.objects.get(action=AuditAction.TENANT_LINKED)
    assert linked.actor == admin_user and linked.detail["tenant_id"] == TENANT


def test_manual_domain_entry_sets_the_empty_primary_domain(
    admin_client: Client, admin_user, portal_emulator
) -> None:
    tenant = portal_emulator.tenant(name="Woodgrove Bank")
    customer = factories.CustomerFactory(name="Woodgrove", primary_domain="")
    response = admin_client.post(
        f"/customers/{customer.pk}/connect/",
        {"tenant_or_domain": tenant.domain.upper()},
        follow=True,
    )
    body = response.content.decode()
    assert "Woodgrove is connected" in body
    assert f"<dt>Primary domain</dt><dd>{tenant.domain}</dd>" in body
    customer.refresh_from_db()
    assert customer.primary_domain == tenant.domain
    assert str(customer.tenant_id) == tenant.tenant_id
    updated = AuditEvent.objects.get(action=AuditAction.CUSTOMER_UPDATED)
    assert (updated.actor, updated.detail) == (admin_user, {"fields": ["primary_domain"]})


def test_offboarded_customer_page_has_no_recheck_button(admin_client: Client, customer_a) -> None:
    assert 'id="recheck"' in admin_client.get(f"/customers/{customer_a.pk}/").content.decode()
    services.offboard_customer(customer=customer_a, delete_data=False, actor_label="test")
    body = admin_client.get(f"/customers/{customer_a.pk}/").content.decode()
    assert 'id="recheck"' not in body and "Re-check consent" not in body
    assert 'id="new-link"' in body  # re-onboarding goes through a new link


def test_recheck_of_an_offboarded_customer_is_refused_with_a_message(
    admin_client: Client, customer_a, fake_microsoft
) -> None:
    services.offboard_customer(customer=customer_a, delete_data=False, actor_label="test")
    response = admin_client.post(f"/customers/{customer_a.pk}/recheck/", follow=True)
    body = response.content.decode()
    assert (
        "Not connected (offboarded): This customer is offboarded; nothing was linked. Send it a "
        "new onboarding link (or link its tenant manually) to onboard it again."
    ) in body
    assert fake_microsoft.token_calls == []
    customer_a.refresh_from_db()
    assert customer_a.consent_state == ConsentState.OFFBOARDED


@pytest.mark.parametrize("value", ["", "not a tenant", "https://contoso.com/", "6c2d8e4f-1a3b"])
def test_manual_tenant_entry_refuses_garbage(
    admin_client: Client, fake_microsoft, value: str
) -> None:
    customer = factories.CustomerFactory(name="Manual Co")
    response = admin_client.post(
        f"/customers/{customer.pk}/connect/", {"tenant_or_domain": value}, follow=True
    )
    body = response.content.decode()
    assert "Enter a tenant ID (a GUID) or a domain name" in body or "This field is required" in body
    assert fake_microsoft.token_calls == []
    assert not PendingTenant.objects.exists()


def test_settings_page_shows_what_to_register(admin_client: Client, settings) -> None:
    settings.PORTAL_URL = "https://portal.mssp.example"
    settings.AZURE_CLIENT_ID = "4b9e2c71-53d8-4f0a-9c6e-2d1f7a8b3e05"
    settings.AZURE_AUTHORITY_HOST = "https://login.microsoftonline.com"
    settings.DEFENDER_API_URL = "https://api-eu.security.microsoft.com"
    body = admin_client.get("/onboarding/settings/", HTTP_HOST="127.0.0.1").content.decode()
    assert 'value="https://portal.mssp.example/onboarding/callback/"' in body
    assert "4b9e2c71-53d8-4f0a-9c6e-2d1f7a8b3e05" in body
    assert "https://login.microsoftonline.com" in body
    assert "https://api-eu.security.microsoft.com" in body
    assert "<code>Incident.Read.All</code>" in body
    assert (
        "https://login.microsoftonline.com/common/oauth2/authorize?prompt=consent&amp;client_id="
        "4b9e2c71-53d8-4f0a-9c6e-2d1f7a8b3e05&amp;response_type=code&amp;sso_reload=true"
    ) in body


def test_tenant_page_offers_v1_link_and_manual_form(admin_client: Client, customer_a) -> None:
    body = admin_client.get(f"/customers/{customer_a.pk}/").content.decode()
    assert "/common/oauth2/authorize?prompt=consent&amp;" in body
    assert 'name="tenant_or_domain"' in body


def test_tenant_page_shows_sync_panel_and_audit_with_bounded_queries(
    admin_client: Client, customer_a, django_assert_max_num_queries
) -> None:
    from tenants.consent import record_audit

    links.issue_link(customer=customer_a, actor_label="test")
    for n in range(80):
        record_audit(customer=customer_a, action=AuditAction.CONFIRMED, message=f"check {n}")
    with django_assert_max_num_queries(10):
        response = admin_client.get(f"/customers/{customer_a.pk}/")
    body = response.content.decode()
    assert "Incident sync" in body  # sync.selectors.tenant_sync_panel, included
    assert body.count("<td>check ") == 50  # the newest 50 audit events
    assert "<td>check 79<" in body and "<td>check 29<" not in body
