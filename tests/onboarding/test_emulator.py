"""Onboarding against the Microsoft emulator: the real consent page, real MSAL tokens, the
real Defender API probe, and each token failure of the contract (§3.4, §11.1)."""

from __future__ import annotations

import uuid
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from django.core.cache import cache
from django.test import Client

from microsoft import entra, token_cache
from onboarding.confirmation import Outcome, confirm_tenant, recheck
from onboarding.models import PendingTenant
from onboarding.services import link_tenant_manually
from tenants.models import AuditAction, AuditEvent, ConsentState
from tests import factories
from tests.onboarding.fakes import callback, start_consent

pytestmark = pytest.mark.django_db


class _FormAction(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.action = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "form":
            self.action = dict(attrs).get("action") or ""


def consent_on_emulator(
    session: requests.Session, emulator: Any, location: str, tenant_id: str, action: str
) -> str:
    """Open Microsoft's (emulated) consent page, choose the tenant, press Accept or Cancel;
    return the redirect back to the portal."""
    page = session.get(location, timeout=10)
    assert page.status_code == 200, page.text
    parser = _FormAction()
    parser.feed(page.text)
    target = parser.action if parser.action.startswith("http") else emulator.url + parser.action
    response = session.post(
        target, data={"tenant": tenant_id, "action": action}, allow_redirects=False, timeout=10
    )
    assert response.status_code == 302, response.text
    return response.headers["Location"]


def portal_path(url: str) -> str:
    parts = urlsplit(url)
    assert url.startswith("http://127.0.0.1:8000/onboarding/callback/")
    return f"{parts.path}?{parts.query}"


def test_consent_accepted_on_microsoft_connects_the_customer(
    client: Client, portal_emulator, emulator_session
) -> None:
    tenant = portal_emulator.tenant(state="not_consented")
    customer = factories.CustomerFactory(name=tenant.name)
    location, _ = start_consent(client, customer)
    assert location.startswith(portal_emulator.url + "/organizations/v2.0/adminconsent?")
    back = consent_on_emulator(
        emulator_session, portal_emulator, location, tenant.tenant_id, "accept"
    )
    response = client.get(portal_path(back))
    assert response.status_code == 200
    assert "Your tenant is connected" in response.content.decode()
    customer.refresh_from_db()
    assert str(customer.tenant_id) == tenant.tenant_id
    assert customer.consent_state == ConsentState.CONNECTED
    assert customer.granted_roles == ["Incident.Read.All"]
    kinds = [(r["kind"], r["status"]) for r in portal_emulator.requests]
    assert ("token", 200) in kinds and ("api", 200) in kinds
    probe = next(r for r in portal_emulator.requests if r["kind"] == "api")
    assert probe["path"] == "/api/incidents" and probe["query"] == {"$top": "1"}


def test_consent_declined_on_microsoft_connects_nothing(
    client: Client, portal_emulator, emulator_session
) -> None:
    tenant = portal_emulator.tenant(state="not_consented")
    customer = factories.CustomerFactory(name=tenant.name)
    location, _ = start_consent(client, customer)
    back = consent_on_emulator(
        emulator_session, portal_emulator, location, tenant.tenant_id, "cancel"
    )
    response = client.get(portal_path(back))
    assert "Consent was not granted" in response.content.decode()
    event = AuditEvent.objects.get(action=AuditAction.CONSENT_DECLINED)
    assert event.detail["error"] == "consent_required"
    assert event.detail["code"] == "AADSTS65004"
    customer.refresh_from_db()
    assert customer.tenant_id is None and customer.consent_state == ConsentState.PENDING
    assert not any(r["kind"] == "token" for r in portal_emulator.requests)


def test_consented_tenant_is_confirmed(portal_emulator) -> None:
    tenant = portal_emulator.tenant(name="Contoso")
    customer = factories.CustomerFactory(name="Contoso")
    result = confirm_tenant(customer=customer, tenant_id=tenant.tenant_id, actor_label="test")
    assert result.outcome == Outcome.CONNECTED
    assert result.granted_roles == ["Incident.Read.All"]


def test_not_consented_tenant_reports_aadsts7000229(portal_emulator) -> None:
    tenant = portal_emulator.tenant(state="not_consented")
    customer = factories.CustomerFactory(name="Pending Co")
    result = confirm_tenant(customer=customer, tenant_id=tenant.tenant_id, actor_label="test")
    assert result.outcome == Outcome.FAILED and result.code == "AADSTS7000229"
    customer.refresh_from_db()
    assert customer.consent_state == ConsentState.PENDING
    assert customer.last_error_code == "AADSTS7000229"
    assert customer.tenant_id is None
    assert str(PendingTenant.objects.get(customer=customer).tenant_id) == tenant.tenant_id


def test_no_roles_tenant_reports_missing_permissions(portal_emulator) -> None:
    tenant = portal_emulator.tenant(state="no_roles")
    customer = factories.CustomerFactory(name="Roleless")
    result = confirm_tenant(customer=customer, tenant_id=tenant.tenant_id, actor_label="test")
    assert result.outcome == Outcome.FAILED
    assert result.missing_roles == ["Incident.Read.All"]
    customer.refresh_from_db()
    assert customer.consent_state == ConsentState.MISSING_PERMISSIONS
    assert not any(r["kind"] == "api" for r in portal_emulator.requests)


def test_unknown_tenant_reports_aadsts90002(portal_emulator) -> None:
    customer = factories.CustomerFactory(name="Ghost")
    result = confirm_tenant(customer=customer, tenant_id=str(uuid.uuid4()), actor_label="test")
    assert result.code == "AADSTS90002"
    customer.refresh_from_db()
    assert customer.consent_state == ConsentState.ERROR
    assert customer.tenant_id is None


def test_unknown_client_id_reports_aadsts700016(portal_emulator, settings) -> None:
    settings.AZURE_CLIENT_ID = str(uuid.uuid4())
    tenant = portal_emulator.tenant(name="Contoso")
    customer = factories.CustomerFactory(name="Contoso")
    result = confirm_tenant(customer=customer, tenant_id=tenant.tenant_id, actor_label="test")
    assert result.code == "AADSTS700016"
    customer.refresh_from_db()
    assert customer.consent_state == ConsentState.ERROR
    assert "client ID" in customer.last_error


def test_wrong_secret_reports_aadsts7000215(portal_emulator, settings) -> None:
    from microsoft import entra

    settings.AZURE_CLIENT_SECRET = "wrong-secret-value"
    entra.client_credential.cache_clear()
    tenant = portal_emulator.tenant(name="Contoso")
    customer = factories.CustomerFactory(name="Contoso")
    result = confirm_tenant(customer=customer, tenant_id=tenant.tenant_id, actor_label="test")
    assert result.code == "AADSTS7000215"
    customer.refresh_from_db()
    assert customer.consent_state == ConsentState.ERROR
    assert "client secret is wrong" in customer.last_error


def test_recheck_sees_consent_granted_after_a_failure(portal_emulator) -> None:
    """A fresh MSAL app per confirmation: the earlier 401 does not hide the new consent."""
    tenant = portal_emulator.tenant(state="not_consented")
    customer = factories.CustomerFactory(name=tenant.name)
    first = confirm_tenant(customer=customer, tenant_id=tenant.tenant_id, actor_label="test")
    assert first.code == "AADSTS7000229"
    portal_emulator.set_tenant_state(tenant.tenant_id, "consented")
    second = recheck(customer=customer, actor_label="test")
    assert second is not None and second.ok
    customer.refresh_from_db()
    assert str(customer.tenant_id) == tenant.tenant_id


def test_recheck_detects_revoked_consent(portal_emulator) -> None:
    tenant = portal_emulator.tenant(name="Contoso")
    customer = factories.CustomerFactory(name="Contoso")
    assert confirm_tenant(customer=customer, tenant_id=tenant.tenant_id, actor_label="t").ok
    portal_emulator.set_tenant_state(tenant.tenant_id, "not_consented")
    result = recheck(customer=customer, actor_label="test")
    assert result is not None and result.code == "AADSTS7000229"
    customer.refresh_from_db()
    assert customer.consent_state == ConsentState.CONSENT_REVOKED
    assert str(customer.tenant_id) == tenant.tenant_id
    assert AuditEvent.objects.filter(action=AuditAction.CONSENT_REVOKED).count() == 1


def test_manual_path_resolves_a_verified_domain(portal_emulator) -> None:
    tenant = portal_emulator.tenant(name="Contoso")
    customer = factories.CustomerFactory(name="Contoso")
    result = link_tenant_manually(
        customer=customer, tenant_or_domain=tenant.domain.upper(), actor_label="test"
    )
    assert result.ok and result.tenant_id == tenant.tenant_id
    linked = AuditEvent.objects.get(action=AuditAction.TENANT_LINKED)
    assert linked.detail == {"tenant_id": tenant.tenant_id, "entered": tenant.domain.upper()}


def test_manual_path_refuses_a_domain_that_does_not_resolve(portal_emulator) -> None:
    customer = factories.CustomerFactory(name="Nowhere")
    result = link_tenant_manually(
        customer=customer, tenant_or_domain="no-such-tenant.example", actor_label="test"
    )
    assert result.outcome == Outcome.INVALID_TENANT
    assert result.code == "AADSTS90002"
    event = AuditEvent.objects.get(action=AuditAction.CONFIRMATION_FAILED)
    assert event.detail == {"code": "AADSTS90002", "entered": "no-such-tenant.example"}
    customer.refresh_from_db()
    assert customer.tenant_id is None and customer.consent_state == ConsentState.PENDING
    assert customer.last_error_code == ""
    assert not PendingTenant.objects.exists()


def test_callback_with_forged_tenant_is_not_trusted(
    client: Client, portal_emulator, emulator_session
) -> None:
    """A forged callback naming a real but unconsented tenant cannot connect it."""
    tenant = portal_emulator.tenant(state="not_consented")
    customer = factories.CustomerFactory(name="Target")
    _, query = start_consent(client, customer)
    response = callback(
        client, admin_consent="True", tenant=tenant.tenant_id, state=query["state"][0]
    )
    assert "Your tenant is not connected yet" in response.content.decode()
    customer.refresh_from_db()
    assert customer.tenant_id is None
    assert customer.consent_state == ConsentState.PENDING


def test_recheck_that_connects_drops_the_older_cached_token(
    portal_emulator, django_capture_on_commit_callbacks
) -> None:
    """The sync cached a token without the app role; the customer grants it and the re-check
    connects them: the sync's next token is a new one carrying the role, not the cached one
    (which would get 403 and fall back to "missing permissions")."""
    tenant = portal_emulator.tenant(state="no_roles")
    customer = factories.ConnectedCustomerFactory(
        name=tenant.name,
        tenant_id=tenant.tenant_id,
        consent_state=ConsentState.MISSING_PERMISSIONS,
        granted_roles=[],
        missing_roles=["Incident.Read.All"],
    )
    old = entra.get_token(tenant.tenant_id)  # as the sync worker gets it: shared cache
    assert old.roles == [] and not old.from_cache
    assert entra.get_token(tenant.tenant_id).from_cache  # cached for the next sync
    portal_emulator.set_tenant_state(tenant.tenant_id, "consented")
    portal_emulator.clear_requests()

    with django_capture_on_commit_callbacks(execute=True):
        result = recheck(customer=customer, actor_label="test")

    assert result is not None and result.ok
    assert cache.get(token_cache._cache_key(tenant.tenant_id)) is None  # shared entry dropped
    new = entra.get_token(tenant.tenant_id)
    assert not new.from_cache
    assert new.roles == ["Incident.Read.All"]
    assert new.token != old.token
    tokens = [r for r in portal_emulator.requests if r["kind"] == "token"]
    assert len(tokens) == 2  # the re-check's fresh token, then the sync's new one
    assert entra.get_token(tenant.tenant_id).from_cache  # and that one is cached again
