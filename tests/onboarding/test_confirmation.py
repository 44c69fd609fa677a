"""``confirm_tenant`` and ``recheck`` beyond the callback: the shared token cache is dropped
after a confirmation connects a customer; offboarding wins over a confirmation running at the
same time; a re-check never reconnects an offboarded customer, while a new onboarding link or
the manual path does (re-onboarding)."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from microsoft import entra, errors
from onboarding import links
from onboarding.confirmation import (
    OFFBOARDED_MESSAGE,
    RACE_OFFBOARDED_MESSAGE,
    Outcome,
    confirm_tenant,
    recheck,
)
from onboarding.models import PendingTenant
from onboarding.services import link_tenant_manually
from tenants import services
from tenants.models import AuditAction, AuditEvent, ConsentState, Customer
from tests import factories
from tests.onboarding.fakes import TENANT, FakeMicrosoft, callback, minted_state

pytestmark = pytest.mark.django_db


@pytest.fixture
def invalidated(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Tenant IDs passed to ``entra.invalidate_token``, in order."""
    calls: list[str] = []
    monkeypatch.setattr(entra, "invalidate_token", calls.append)
    return calls


def offboard_during_token_request(
    monkeypatch: pytest.MonkeyPatch, fake: FakeMicrosoft, customer: Customer, *, delete: bool
) -> None:
    """Make the (fake) token request offboard ``customer`` before it answers, as an
    administrator pressing Offboard while the confirmation waits on Entra ID would."""

    def get_token(tenant_id: str, *, fresh: bool = False) -> entra.AccessToken:
        services.offboard_customer(customer=customer, delete_data=delete, actor_label="test")
        return fake.get_token(tenant_id, fresh=fresh)

    monkeypatch.setattr(entra, "get_token", get_token)


def actions(customer: Customer) -> list[str]:
    return list(
        AuditEvent.objects.filter(customer=customer).order_by("id").values_list("action", flat=True)
    )


def test_connecting_drops_the_tenants_cached_token_after_commit(
    fake_microsoft: FakeMicrosoft, invalidated: list[str], django_capture_on_commit_callbacks: Any
) -> None:
    customer = factories.CustomerFactory(name="Contoso")
    with django_capture_on_commit_callbacks() as pending:
        result = confirm_tenant(customer=customer, tenant_id=TENANT, actor_label="test")
        assert invalidated == []  # not before the connection is committed
    assert result.ok
    assert len(pending) == 1
    pending[0]()
    assert invalidated == [TENANT]


@pytest.mark.parametrize(
    "failure",
    ["token", "roles", "probe"],
)
def test_failed_confirmation_leaves_the_cached_token_alone(
    fake_microsoft: FakeMicrosoft,
    invalidated: list[str],
    django_capture_on_commit_callbacks: Any,
    failure: str,
) -> None:
    if failure == "token":
        fake_microsoft.token_error = errors.ConsentMissingError("no SP", aadsts=7000229)
    elif failure == "roles":
        fake_microsoft.roles = []
    else:
        fake_microsoft.probe_error = errors.MissingRolesError(
            "refused", missing=["Incident.Read.All"], code="HTTP 403"
        )
    customer = factories.ConnectedCustomerFactory(name="Contoso", tenant_id=TENANT)
    with django_capture_on_commit_callbacks(execute=True):
        result = confirm_tenant(customer=customer, tenant_id=TENANT, actor_label="test")
    assert result.outcome == Outcome.FAILED
    assert invalidated == []


@pytest.mark.parametrize("delete", [False, True])
def test_customer_offboarded_during_confirmation_is_not_connected(
    monkeypatch: pytest.MonkeyPatch,
    fake_microsoft: FakeMicrosoft,
    invalidated: list[str],
    django_capture_on_commit_callbacks: Any,
    delete: bool,
) -> None:
    customer = factories.CustomerFactory(name="Contoso")
    offboard_during_token_request(monkeypatch, fake_microsoft, customer, delete=delete)
    with django_capture_on_commit_callbacks(execute=True):
        result = confirm_tenant(customer=customer, tenant_id=TENANT, actor_label="test")
    assert result.outcome == Outcome.OFFBOARDED
    assert result.code == "offboarded"
    assert result.message == RACE_OFFBOARDED_MESSAGE
    assert not result.ok
    customer.refresh_from_db()
    assert customer.consent_state == ConsentState.OFFBOARDED
    assert customer.tenant_id is None
    assert customer.last_confirmed_at is None
    assert not PendingTenant.objects.exists()
    assert actions(customer) == [AuditAction.OFFBOARDED, AuditAction.CONFIRMATION_FAILED]
    refused = AuditEvent.objects.get(action=AuditAction.CONFIRMATION_FAILED)
    assert refused.detail == {"code": "offboarded", "tenant_id": TENANT}
    assert refused.message == RACE_OFFBOARDED_MESSAGE
    assert invalidated == []


def test_connected_customer_offboarded_during_recheck_stays_offboarded(
    monkeypatch: pytest.MonkeyPatch, fake_microsoft: FakeMicrosoft
) -> None:
    customer = factories.ConnectedCustomerFactory(name="Contoso", tenant_id=TENANT)
    offboard_during_token_request(monkeypatch, fake_microsoft, customer, delete=False)
    result = recheck(customer=customer, actor_label="test")
    assert result is not None and result.outcome == Outcome.OFFBOARDED
    customer.refresh_from_db()
    assert customer.consent_state == ConsentState.OFFBOARDED
    assert str(customer.tenant_id) == TENANT  # data kept, tenant kept, still not synced
    assert not AuditEvent.objects.filter(action=AuditAction.CONFIRMED).exists()


def test_callback_shows_a_refusal_when_offboarded_meanwhile(
    client: Client, monkeypatch: pytest.MonkeyPatch, fake_microsoft: FakeMicrosoft
) -> None:
    customer = factories.CustomerFactory(name="Contoso")
    state = minted_state(client, customer)
    offboard_during_token_request(monkeypatch, fake_microsoft, customer, delete=False)
    response = callback(client, admin_consent="True", tenant=TENANT, state=state)
    body = response.content.decode()
    assert response.status_code == 200
    assert "Your tenant is not connected yet" in body
    assert "This onboarding link was withdrawn while your consent was being confirmed." in body
    customer.refresh_from_db()
    assert customer.consent_state == ConsentState.OFFBOARDED and customer.tenant_id is None


def test_recheck_refuses_an_offboarded_customer(fake_microsoft: FakeMicrosoft) -> None:
    customer = factories.ConnectedCustomerFactory(name="Contoso", tenant_id=TENANT)
    services.offboard_customer(customer=customer, delete_data=False, actor_label="test")
    result = recheck(customer=customer, actor_label="MSSP administrator")
    assert result is not None
    assert (result.outcome, result.code, result.message) == (
        Outcome.OFFBOARDED,
        "offboarded",
        OFFBOARDED_MESSAGE,
    )
    assert fake_microsoft.token_calls == []  # Microsoft is not even asked
    customer.refresh_from_db()
    assert customer.consent_state == ConsentState.OFFBOARDED
    refused = AuditEvent.objects.get(action=AuditAction.CONFIRMATION_FAILED)
    assert refused.actor_label == "MSSP administrator"
    assert refused.detail == {"code": "offboarded", "tenant_id": TENANT}


def test_recheck_reads_the_current_row_not_the_callers_copy(
    fake_microsoft: FakeMicrosoft,
) -> None:
    """The caller's object says connected; the row says offboarded: the row wins."""
    customer = factories.ConnectedCustomerFactory(name="Contoso", tenant_id=TENANT)
    stale = Customer.objects.get(pk=customer.pk)
    services.offboard_customer(customer=customer, delete_data=False, actor_label="test")
    assert stale.consent_state == ConsentState.CONNECTED
    result = recheck(customer=stale, actor_label="test")
    assert result is not None and result.outcome == Outcome.OFFBOARDED
    assert fake_microsoft.token_calls == []


@pytest.mark.parametrize("delete", [False, True])
def test_offboarded_customer_is_onboarded_again_through_a_new_link(
    client: Client, fake_microsoft: FakeMicrosoft, invalidated: list[str], delete: bool
) -> None:
    customer = factories.ConnectedCustomerFactory(name="Contoso", tenant_id=TENANT)
    services.offboard_customer(customer=customer, delete_data=delete, actor_label="test")
    links.issue_link(customer=customer, actor_label="test")
    state = minted_state(client, customer)
    response = callback(client, admin_consent="True", tenant=TENANT, state=state)
    assert "Your tenant is connected" in response.content.decode()
    customer.refresh_from_db()
    assert customer.consent_state == ConsentState.CONNECTED
    assert str(customer.tenant_id) == TENANT
    assert fake_microsoft.token_calls == [(TENANT, True)]


def test_offboarded_customer_is_onboarded_again_through_the_manual_path(
    fake_microsoft: FakeMicrosoft,
) -> None:
    customer = factories.ConnectedCustomerFactory(name="Contoso", tenant_id=TENANT)
    services.offboard_customer(customer=customer, delete_data=True, actor_label="test")
    result = link_tenant_manually(customer=customer, tenant_or_domain=TENANT, actor_label="test")
    assert result.ok
    customer.refresh_from_db()
    assert customer.consent_state == ConsentState.CONNECTED
    assert str(customer.tenant_id) == TENANT
