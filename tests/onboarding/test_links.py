"""Onboarding links: unguessable, expiring, regenerable; the customer-facing page."""

from __future__ import annotations

import logging
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client
from django.utils import timezone

from onboarding import links
from onboarding.models import ConsentRequest, OnboardingLink
from tenants.models import AuditAction, AuditEvent
from tests import factories
from tests.onboarding.fakes import link_path, start_consent

pytestmark = pytest.mark.django_db


@pytest.fixture
def customer():  # type: ignore[no-untyped-def]
    return factories.CustomerFactory(name="Northwind Traders")


def test_link_token_is_signed_random_key(customer) -> None:
    link = links.issue_link(customer=customer, actor_label="test")
    token = links.link_token(link)
    key, signature = token.split(".")
    assert key == link.key
    assert len(key) == 32  # 24 random bytes, URL-safe base64
    assert len(signature) == 43  # HMAC-SHA256
    assert links.resolve_link(token) == link


def test_tampered_or_unknown_token_is_refused(customer) -> None:
    link = links.issue_link(customer=customer, actor_label="test")
    token = links.link_token(link)
    for bad in (token[:-1] + ("A" if token[-1] != "A" else "B"), link.key, "x.y", ""):
        with pytest.raises(links.LinkInvalid) as info:
            links.resolve_link(bad)
        assert info.value.reason == "unknown"


def test_link_url_is_built_from_portal_url_not_the_request(customer, settings) -> None:
    settings.PORTAL_URL = "https://portal.mssp.example"
    link = links.issue_link(customer=customer, actor_label="test")
    assert links.link_url(link) == (
        f"https://portal.mssp.example/onboarding/l/{links.link_token(link)}/"
    )


def test_link_expires_after_configured_ttl(customer, settings) -> None:
    settings.ONBOARDING_LINK_TTL = timedelta(days=3)
    before = timezone.now()
    link = links.issue_link(customer=customer, actor_label="test")
    assert timedelta(days=3) <= link.expires_at - before < timedelta(days=3, seconds=5)


def test_new_link_revokes_the_previous_one(customer, admin_user) -> None:
    old = links.issue_link(customer=customer, actor_label="test")
    new = links.issue_link(customer=customer, actor=admin_user)
    old.refresh_from_db()
    assert old.status == "revoked"
    assert links.active_link(customer) == new
    with pytest.raises(links.LinkInvalid) as info:
        links.resolve_link(links.link_token(old))
    assert info.value.reason == "revoked"
    event = AuditEvent.objects.filter(action=AuditAction.LINK_CREATED).first()
    assert event is not None and event.actor == admin_user
    assert event.message == "Onboarding link created; 1 previous link(s) revoked."


def test_onboarding_page_says_who_asks_which_app_and_permissions(
    client: Client, customer, settings
) -> None:
    settings.MSSP_NAME = "Blue Team MSSP"
    settings.ONBOARDING_APP_NAME = "Blue Team Partner Portal"
    settings.AZURE_CLIENT_ID = "4b9e2c71-53d8-4f0a-9c6e-2d1f7a8b3e05"
    response = client.get(link_path(customer))
    assert response.status_code == 200
    body = response.content.decode()
    assert "Blue Team MSSP" in body
    assert "Northwind Traders" in body
    assert "Blue Team Partner Portal" in body
    assert "4b9e2c71-53d8-4f0a-9c6e-2d1f7a8b3e05" in body
    assert "<code>Incident.Read.All</code>" in body
    assert "triage" in body  # the reason for the permission
    assert 'action="/onboarding/l/' in body and "csrfmiddlewaretoken" in body
    assert response["Cache-Control"].startswith("max-age=0")
    assert OnboardingLink.objects.get(customer=customer).last_opened_at is not None


@pytest.mark.parametrize("reason", ["expired", "revoked"])
def test_unusable_genuine_link_gets_a_clear_page_and_an_audit_entry(
    client: Client, customer, reason: str
) -> None:
    path = link_path(customer)
    link = OnboardingLink.objects.get(customer=customer)
    if reason == "expired":
        OnboardingLink.objects.filter(pk=link.pk).update(
            expires_at=timezone.now() - timedelta(seconds=1)
        )
    else:
        links.issue_link(customer=customer, actor_label="test")
    response = client.get(path)
    assert response.status_code == 410
    assert "Ask Your MSSP to send you a new onboarding link" in response.content.decode()
    event = AuditEvent.objects.get(action=AuditAction.LINK_REJECTED)
    assert event.detail == {"reason": reason, "link_id": link.pk}
    assert event.customer == customer
    # The consent button refuses it too (audited again), and mints no state.
    assert client.post(path + "consent/").status_code == 410
    assert AuditEvent.objects.filter(action=AuditAction.LINK_REJECTED).count() == 2
    assert ConsentRequest.objects.count() == 0


def test_unknown_link_gets_a_clear_page_and_a_log_line_not_an_audit_row(
    client: Client, customer, caplog: pytest.LogCaptureFixture
) -> None:
    path = link_path(customer)
    link = OnboardingLink.objects.get(customer=customer)
    audited = AuditEvent.objects.count()
    bad = path.replace(link.key, link.key[:-2] + "zz")
    with caplog.at_level(logging.INFO, logger="onboarding.links"):
        response = client.get(bad)
        assert client.post(bad + "consent/").status_code == 404
    assert response.status_code == 404
    assert "Ask Your MSSP to send you a new onboarding link" in response.content.decode()
    assert AuditEvent.objects.count() == audited
    assert [
        (r.levelno, r.getMessage()) for r in caplog.records if r.name == "onboarding.links"
    ] == [
        (logging.INFO, "onboarding link refused: reason=unknown (names no link; not audited)")
    ] * 2
    assert link.key not in caplog.text  # the token is never logged
    assert ConsentRequest.objects.count() == 0


def test_junk_link_tokens_write_no_audit_rows(client: Client) -> None:
    for token in ["x", "x.y", "a" * 300, "not-a-token", "abc.def.ghi"] * 5:
        assert client.get(f"/onboarding/l/{token}/").status_code == 404
    assert AuditEvent.objects.count() == 0


def test_consent_button_needs_post(client: Client, customer) -> None:
    assert client.get(link_path(customer) + "consent/").status_code == 405
    assert ConsentRequest.objects.count() == 0


def test_consent_button_needs_csrf_token(customer) -> None:
    client = Client(enforce_csrf_checks=True)
    path = link_path(customer)
    client.get(path)
    assert client.post(path + "consent/").status_code == 403
    assert ConsentRequest.objects.count() == 0


def test_consent_button_redirects_to_v2_admin_consent_with_fresh_state(
    client: Client, customer, settings
) -> None:
    settings.AZURE_AUTHORITY_HOST = "https://login.microsoftonline.com"
    settings.AZURE_CLIENT_ID = "4b9e2c71-53d8-4f0a-9c6e-2d1f7a8b3e05"
    settings.PORTAL_URL = "https://portal.mssp.example"
    location, query = start_consent(client, customer)
    parts = urlsplit(location)
    assert (parts.scheme, parts.netloc, parts.path) == (
        "https",
        "login.microsoftonline.com",
        "/organizations/v2.0/adminconsent",
    )
    assert query["client_id"] == ["4b9e2c71-53d8-4f0a-9c6e-2d1f7a8b3e05"]
    assert query["scope"] == ["https://api.security.microsoft.com/.default"]
    assert query["redirect_uri"] == ["https://portal.mssp.example/onboarding/callback/"]
    state = query["state"][0]
    assert len(state) == 43  # 256 random bits
    request = ConsentRequest.objects.get()
    assert request.customer == customer
    assert state not in (request.state_hash, request.session_hash)  # only hashes are stored
    assert len(request.state_hash) == 64
    assert timedelta(minutes=9) < request.expires_at - timezone.now() <= timedelta(minutes=10)
    assert AuditEvent.objects.filter(action=AuditAction.CONSENT_STARTED).count() == 1
    # A second press mints a different state.
    _, again = start_consent(client, customer)
    assert again["state"][0] != state
    assert ConsentRequest.objects.count() == 2


def test_redirect_uri_ignores_the_request_host(customer, settings) -> None:
    settings.ALLOWED_HOSTS = ["evil.example", "testserver"]
    settings.PORTAL_URL = "https://portal.mssp.example"
    client = Client(HTTP_HOST="evil.example")
    path = link_path(customer)
    client.get(path)
    response = client.post(path + "consent/")
    query = parse_qs(urlsplit(response["Location"]).query)
    assert query["redirect_uri"] == ["https://portal.mssp.example/onboarding/callback/"]
