"""The consent callback: decline, bad tenant, tenant of another customer, token and roles
failures; each gets a clear page, an audit entry, and nothing stored wrongly."""

from __future__ import annotations

import pytest
from django.test import Client

from microsoft import errors
from onboarding.models import PendingTenant
from tenants.models import AuditAction, AuditEvent, ConsentState
from tests import factories
from tests.onboarding.fakes import OTHER_TENANT, TENANT, callback, minted_state

pytestmark = pytest.mark.django_db

DECLINE_DESCRIPTION = (
    "AADSTS65004: User declined to consent to access the app. Trace ID: "
    "8f0e2d4c-6b1a-4e3d-9c7f-51a2b3c4d500 Correlation ID: 2e9c7a15-d3f4-4b86-a0e1-7c5d9b3f2a64 "
    "Timestamp: 2025-06-02 14:05:11Z"
)


@pytest.fixture
def customer():  # type: ignore[no-untyped-def]
    return factories.CustomerFactory(name="Northwind Traders")


def accept(client: Client, customer, tenant: str = TENANT, **extra: str):  # type: ignore[no-untyped-def]
    state = minted_state(client, customer)
    return callback(client, admin_consent="True", tenant=tenant, state=state, **extra)


def actions(customer) -> list[str]:  # type: ignore[no-untyped-def]
    return list(
        AuditEvent.objects.filter(customer=customer).order_by("id").values_list("action", flat=True)
    )


def test_accepted_consent_is_confirmed_then_connected(
    client: Client, customer, fake_microsoft
) -> None:
    response = accept(client, customer, tenant=TENANT.upper())
    assert response.status_code == 200
    body = response.content.decode()
    assert "Your tenant is connected" in body and "Incident.Read.All" in body
    customer.refresh_from_db()
    assert str(customer.tenant_id) == TENANT  # lowercased GUID
    assert customer.consent_state == ConsentState.CONNECTED
    assert customer.granted_roles == ["Incident.Read.All"]
    assert customer.consent_given_at is not None and customer.last_confirmed_at is not None
    assert fake_microsoft.token_calls == [(TENANT, True)]  # fresh MSAL app
    assert fake_microsoft.probe_calls == [(TENANT, f"fresh-token-{TENANT}")]
    assert not PendingTenant.objects.exists()
    assert actions(customer) == [
        AuditAction.LINK_CREATED,
        AuditAction.CONSENT_STARTED,
        AuditAction.CONSENT_RETURNED,
        AuditAction.CONFIRMED,
    ]
    returned = AuditEvent.objects.get(action=AuditAction.CONSENT_RETURNED)
    assert returned.actor_label == "customer administrator"
    assert returned.detail["tenant_id"] == TENANT


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        ("access_denied", "The administrator declined the consent request"),
        ("consent_required", "The administrator declined the consent request"),
        ("permission_denied", "The administrator declined the consent request"),
    ],
)
def test_declined_consent_is_explained_and_audited(
    client: Client, customer, fake_microsoft, error: str, expected: str
) -> None:
    state = minted_state(client, customer)
    response = callback(
        client,
        admin_consent="True",
        error=error,
        error_description=DECLINE_DESCRIPTION,
        state=state,
    )
    assert response.status_code == 200
    body = response.content.decode()
    assert "Consent was not granted" in body and expected in body
    event = AuditEvent.objects.get(action=AuditAction.CONSENT_DECLINED)
    assert event.detail["error"] == error
    assert event.detail["code"] == "AADSTS65004"
    assert event.detail["error_description"] == (
        "AADSTS65004: User declined to consent to access the app."
    )
    customer.refresh_from_db()
    assert customer.tenant_id is None
    assert customer.consent_state == ConsentState.PENDING
    assert customer.last_error_code == "AADSTS65004"
    assert fake_microsoft.token_calls == []


@pytest.mark.parametrize("description", ["", "<script>alert(1)</script>", "x" * 5000])
def test_any_error_description_is_shown_safely(
    client: Client, customer, fake_microsoft, description: str
) -> None:
    state = minted_state(client, customer)
    response = callback(client, error="access_denied", error_description=description, state=state)
    assert response.status_code == 200
    assert "<script>alert(1)</script>" not in response.content.decode()
    event = AuditEvent.objects.get(action=AuditAction.CONSENT_DECLINED)
    assert len(event.detail["error_description"]) <= 500


def test_decline_does_not_disturb_a_connected_customer(client: Client, fake_microsoft) -> None:
    customer = factories.ConnectedCustomerFactory(name="Contoso")
    state = minted_state(client, customer)
    callback(client, error="consent_required", error_description=DECLINE_DESCRIPTION, state=state)
    customer.refresh_from_db()
    assert customer.consent_state == ConsentState.CONNECTED
    assert customer.last_error_code == ""


@pytest.mark.parametrize("tenant", ["", "contoso.com", "not-a-guid", "6c2d8e4f-1a3b", "common"])
def test_tenant_that_is_not_a_guid_is_rejected(
    client: Client, customer, fake_microsoft, tenant: str
) -> None:
    response = accept(client, customer, tenant=tenant)
    assert response.status_code == 400
    assert "did not carry a valid tenant ID" in response.content.decode()
    event = AuditEvent.objects.get(action=AuditAction.CALLBACK_REJECTED)
    assert event.detail == {"reason": "tenant_not_guid", "tenant": tenant}
    customer.refresh_from_db()
    assert customer.tenant_id is None
    assert not PendingTenant.objects.exists()
    assert fake_microsoft.token_calls == []


def test_missing_admin_consent_flag_is_rejected(client: Client, customer, fake_microsoft) -> None:
    state = minted_state(client, customer)
    response = callback(client, tenant=TENANT, state=state)
    assert response.status_code == 400
    assert AuditEvent.objects.get(action=AuditAction.CALLBACK_REJECTED).detail["reason"] == (
        "no_consent"
    )
    assert fake_microsoft.token_calls == []


def test_tenant_of_another_customer_is_refused(client: Client, customer, fake_microsoft) -> None:
    other = factories.ConnectedCustomerFactory(name="Fabrikam", tenant_id=TENANT)
    response = accept(client, customer)
    assert response.status_code == 200
    body = response.content.decode()
    assert "cannot be connected through this onboarding link" in body
    assert "Fabrikam" not in body  # the customer administrator learns nothing about others
    event = AuditEvent.objects.get(action=AuditAction.CONFIRMATION_FAILED)
    assert event.customer == customer
    assert event.detail["code"] == "tenant_in_use"
    assert event.detail["other_customer_id"] == other.pk
    customer.refresh_from_db()
    assert customer.tenant_id is None and customer.consent_state == ConsentState.PENDING
    assert not PendingTenant.objects.exists()
    assert fake_microsoft.token_calls == []


def test_other_tenant_for_a_connected_customer_is_refused(client: Client, fake_microsoft) -> None:
    customer = factories.ConnectedCustomerFactory(name="Contoso", tenant_id=TENANT)
    response = accept(client, customer, tenant=OTHER_TENANT)
    assert response.status_code == 200
    event = AuditEvent.objects.get(action=AuditAction.CONFIRMATION_FAILED)
    assert event.detail["code"] == "tenant_mismatch"
    customer.refresh_from_db()
    assert str(customer.tenant_id) == TENANT
    assert fake_microsoft.token_calls == []


@pytest.mark.parametrize(
    ("exc", "state", "code"),
    [
        (
            errors.ConsentMissingError("no service principal", aadsts=7000229),
            ConsentState.PENDING,
            "AADSTS7000229",
        ),
        (
            errors.AppCredentialsError("app not found", aadsts=700016),
            ConsentState.ERROR,
            "AADSTS700016",
        ),
        (
            errors.TenantNotFoundError("tenant not found", aadsts=90002),
            ConsentState.ERROR,
            "AADSTS90002",
        ),
        (
            errors.AppCredentialsError("wrong secret", aadsts=7000215),
            ConsentState.ERROR,
            "AADSTS7000215",
        ),
    ],
)
def test_token_failure_after_consent_keeps_tenant_unconfirmed(
    client: Client, customer, fake_microsoft, exc, state: str, code: str
) -> None:
    fake_microsoft.token_error = exc
    response = accept(client, customer)
    assert response.status_code == 200
    body = response.content.decode()
    assert "Your tenant is not connected yet" in body
    assert code in body and exc.message in body
    assert "What to do:" in body
    customer.refresh_from_db()
    assert customer.tenant_id is None
    assert customer.consent_state == state
    assert customer.last_error_code == code
    assert customer.last_error == exc.message
    assert PendingTenant.objects.get(customer=customer).tenant_id.hex == TENANT.replace("-", "")
    event = AuditEvent.objects.get(action=AuditAction.CONFIRMATION_FAILED)
    assert event.detail["code"] == code and event.detail["tenant_id"] == TENANT
    assert fake_microsoft.probe_calls == []


def test_token_without_roles_means_missing_permissions(
    client: Client, customer, fake_microsoft
) -> None:
    fake_microsoft.roles = []
    response = accept(client, customer)
    assert "Your tenant is not connected yet" in response.content.decode()
    customer.refresh_from_db()
    assert customer.tenant_id is None
    assert customer.consent_state == ConsentState.MISSING_PERMISSIONS
    assert customer.missing_roles == ["Incident.Read.All"]
    assert customer.granted_roles == []
    assert customer.last_error_code == "missing_roles"
    assert AuditEvent.objects.filter(action=AuditAction.PERMISSIONS_MISSING).count() == 1
    assert fake_microsoft.probe_calls == []


def test_token_with_other_roles_only_means_missing_permissions(
    client: Client, customer, fake_microsoft
) -> None:
    fake_microsoft.roles = ["AdvancedHunting.Read.All"]
    accept(client, customer)
    customer.refresh_from_db()
    assert customer.consent_state == ConsentState.MISSING_PERMISSIONS
    assert customer.granted_roles == ["AdvancedHunting.Read.All"]
    assert customer.missing_roles == ["Incident.Read.All"]


def test_readwrite_role_satisfies_read(client: Client, customer, fake_microsoft) -> None:
    fake_microsoft.roles = ["Incident.ReadWrite.All"]
    accept(client, customer)
    customer.refresh_from_db()
    assert customer.consent_state == ConsentState.CONNECTED
    assert customer.granted_roles == ["Incident.ReadWrite.All"]


def test_api_403_means_consent_without_roles(client: Client, customer, fake_microsoft) -> None:
    fake_microsoft.probe_error = errors.MissingRolesError(
        "The Defender API refused access.", missing=["Incident.Read.All"], code="HTTP 403"
    )
    accept(client, customer)
    customer.refresh_from_db()
    assert customer.tenant_id is None
    assert customer.consent_state == ConsentState.MISSING_PERMISSIONS
    assert customer.last_error_code == "HTTP 403"
    assert customer.granted_roles == ["Incident.Read.All"]


def test_callback_never_follows_a_redirect_parameter(
    client: Client, customer, fake_microsoft
) -> None:
    response = accept(
        client,
        customer,
        next="https://evil.example/",
        redirect_uri="https://evil.example/",
        redirect="//evil.example",
    )
    assert response.status_code == 200
    assert "Location" not in response
    assert "evil.example" not in response.content.decode()
