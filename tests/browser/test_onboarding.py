"""Onboarding in a real browser (system Chromium) against the Microsoft emulator: an MSSP
administrator adds a customer, the customer's administrator opens the onboarding link, accepts
(or declines) on the emulator's consent page and lands back on the portal; the same through
Microsoft's v1 link with a tenant ID or a domain entered by the administrator."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from tenants.models import ConsentState, Customer
from tests.browser.conftest import sign_in
from tests.factories import ConnectedCustomerFactory

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def portal(live_server: Any, portal_emulator: Any, settings: Any) -> Iterator[Any]:
    """The live portal wired to the emulator, its callback registered as a redirect URI."""
    settings.PORTAL_URL = live_server.url
    settings.MSSP_NAME = "Blue Team MSSP"
    portal_emulator.register_redirect_uri(live_server.url + "/onboarding/callback/")
    yield portal_emulator


@pytest.fixture
def customer_admin(browser: Any, live_server: Any) -> Iterator[Any]:
    """A separate browser (no portal account) for the customer's Global Administrator.

    Trusts the emulator's local CA certificate the way a browser would after the user accepts
    it.
    """
    context = browser.new_context(ignore_https_errors=True)
    context.set_default_timeout(15_000)
    page = context.new_page()
    yield page
    context.close()


def add_customer(page: Any, live_server: Any, name: str) -> str:
    """As the signed-in administrator, add ``name`` on the Customers page; return its link."""
    page.goto(f"{live_server.url}/customers/")
    page.fill("#id_name", name)
    page.fill("#id_primary_domain", "northwind.example")
    page.click("text=Add customer >> nth=-1")
    page.wait_for_selector("#onboarding-link")
    assert page.locator("#consent-state").inner_text() == "Pending consent"
    return str(page.input_value("#onboarding-link"))


def test_customer_accepts_consent_and_is_connected(
    page: Any, customer_admin: Any, live_server: Any, portal: Any, admin_user: Any
) -> None:
    tenant = portal.tenant(state="not_consented")
    sign_in(page, live_server, admin_user)
    link = add_customer(page, live_server, "Northwind Traders")

    customer_admin.goto(link)
    assert "Blue Team MSSP" in customer_admin.inner_text("main")
    assert "Incident.Read.All" in customer_admin.inner_text("main")
    customer_admin.click("#grant-consent")
    customer_admin.wait_for_selector("#accept")
    assert "/organizations/v2.0/adminconsent" in customer_admin.url
    customer_admin.select_option("#tenant", tenant.tenant_id)
    customer_admin.click("#accept")
    customer_admin.wait_for_url(re.compile(re.escape(live_server.url) + "/onboarding/callback/"))
    assert customer_admin.inner_text("#result-title") == "Your tenant is connected"

    page.reload()
    assert page.inner_text("#consent-state") == "Connected"
    assert page.inner_text("#tenant-id") == tenant.tenant_id
    assert page.inner_text("#granted-roles") == "Incident.Read.All"
    assert "Consent confirmed" in page.inner_text("#audit")
    customer = Customer.objects.get(name="Northwind Traders")
    assert customer.consent_state == ConsentState.CONNECTED


def test_customer_declines_consent_and_nothing_is_connected(
    page: Any, customer_admin: Any, live_server: Any, portal: Any, admin_user: Any
) -> None:
    tenant = portal.tenant(state="not_consented")
    sign_in(page, live_server, admin_user)
    link = add_customer(page, live_server, "Northwind Traders")

    customer_admin.goto(link)
    customer_admin.click("#grant-consent")
    customer_admin.select_option("#tenant", tenant.tenant_id)
    customer_admin.click("#cancel")
    customer_admin.wait_for_url(re.compile(re.escape(live_server.url) + "/onboarding/callback/"))
    assert customer_admin.inner_text("#result-title") == "Consent was not granted"
    assert "declined" in customer_admin.inner_text("main")

    page.reload()
    assert page.inner_text("#consent-state") == "Pending consent"
    assert "AADSTS65004" in page.inner_text("#last-error")
    assert "Consent declined" in page.inner_text("#audit")
    assert Customer.objects.get(name="Northwind Traders").tenant_id is None


@pytest.mark.parametrize("entered", ["tenant_id", "domain"])
def test_v1_link_then_manual_tenant_entry_connects(
    page: Any,
    customer_admin: Any,
    live_server: Any,
    portal: Any,
    admin_user: Any,
    entered: str,
) -> None:
    tenant = portal.tenant(state="not_consented")
    sign_in(page, live_server, admin_user)
    add_customer(page, live_server, "Northwind Traders")
    legacy = str(page.input_value("#legacy-consent-url"))
    assert "/common/oauth2/authorize?prompt=consent&client_id=" in legacy

    # The customer's administrator follows Microsoft's manual procedure.
    customer_admin.goto(legacy)
    customer_admin.select_option("#tenant", tenant.tenant_id)
    # Without redirect_uri, Microsoft returns to the app's first registered reply URL: the
    # emulator's default portal address (port 8000), not this live server. Open the same
    # callback on the live server, as the administrator would land on a deployed portal.
    default_reply = "http://127.0.0.1:8000/onboarding/callback/?code="
    with customer_admin.expect_request(lambda r: r.url.startswith(default_reply)) as reply:
        customer_admin.click("#accept")
    returned = reply.value.url
    assert "state" not in parse_qs(urlsplit(returned).query)  # v1: no state, no tenant
    landing = customer_admin.context.new_page()
    landing.goto(returned.replace("http://127.0.0.1:8000", live_server.url, 1))
    assert landing.inner_text("#result-title") == "Consent recorded by Microsoft"

    # The MSSP administrator enters what the customer told them.
    page.fill("#id_tenant_or_domain", tenant.tenant_id if entered == "tenant_id" else tenant.domain)
    page.click("#connect-tenant")
    page.wait_for_selector(".message.success")
    assert "Northwind Traders is connected" in page.inner_text(".messages")
    assert page.inner_text("#consent-state") == "Connected"
    assert page.inner_text("#tenant-id") == tenant.tenant_id
    assert page.inner_text("#granted-roles") == "Incident.Read.All"
    assert "Tenant linked manually" in page.inner_text("#audit")


def test_offboarded_customer_reconnects_only_through_a_new_link(
    page: Any, customer_admin: Any, live_server: Any, portal: Any, admin_user: Any
) -> None:
    """After offboarding there is no "Re-check consent" button; a new onboarding link and the
    customer's consent connect the customer again."""
    tenant = portal.tenant(state="consented")
    customer = ConnectedCustomerFactory(name="Northwind Traders", tenant_id=tenant.tenant_id)
    sign_in(page, live_server, admin_user)
    page.goto(f"{live_server.url}/customers/{customer.pk}/")
    assert page.locator("#recheck").count() == 1

    page.click("#offboard")
    page.check("#id_confirm")
    page.click("#confirm-offboard")
    page.wait_for_selector(".message.success")
    assert page.inner_text("#consent-state") == "Offboarded"
    assert page.locator("#recheck").count() == 0
    assert page.locator("#onboarding-link").count() == 0  # offboarding revoked the link

    page.click("#new-link")
    page.wait_for_selector("#onboarding-link")
    link = str(page.input_value("#onboarding-link"))
    customer_admin.goto(link)
    customer_admin.click("#grant-consent")
    customer_admin.select_option("#tenant", tenant.tenant_id)
    customer_admin.click("#accept")
    customer_admin.wait_for_url(re.compile(re.escape(live_server.url) + "/onboarding/callback/"))
    assert customer_admin.inner_text("#result-title") == "Your tenant is connected"

    page.reload()
    assert page.inner_text("#consent-state") == "Connected"
    assert page.inner_text("#tenant-id") == tenant.tenant_id
    assert page.locator("#recheck").count() == 1
