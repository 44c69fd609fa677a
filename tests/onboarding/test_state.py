"""OAuth state (contract §2.4): missing, forged, expired, reused, other-session and
replaced-link states are refused, consumed, and store nothing on the customer. Refusals tied to a
customer (through a state this portal issued) are audited; anonymous ones (no state, unknown
state) are logged, never written to the audit table."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from onboarding import links
from onboarding.models import ConsentRequest, PendingTenant
from tenants.models import AuditAction, AuditEvent, ConsentState
from tests import factories
from tests.onboarding.fakes import TENANT, callback, minted_state

pytestmark = pytest.mark.django_db


@pytest.fixture
def customer():  # type: ignore[no-untyped-def]
    return factories.CustomerFactory(name="Northwind Traders")


def success_params(state: str) -> dict[str, str]:
    return {
        "admin_consent": "True",
        "tenant": TENANT,
        "scope": "https://api.security.microsoft.com/.default",
        "state": state,
    }


def assert_nothing_stored(customer) -> None:  # type: ignore[no-untyped-def]
    customer.refresh_from_db()
    assert customer.tenant_id is None
    assert customer.consent_state == ConsentState.PENDING
    assert not PendingTenant.objects.filter(customer=customer).exists()


def rejection(reason: str) -> AuditEvent:
    return AuditEvent.objects.get(action=AuditAction.CALLBACK_REJECTED, detail__reason=reason)


def callback_log(caplog: pytest.LogCaptureFixture) -> list[tuple[int, str]]:
    return [(r.levelno, r.getMessage()) for r in caplog.records if r.name == "onboarding.callback"]


def test_valid_state_is_accepted_once(client: Client, customer, fake_microsoft) -> None:
    state = minted_state(client, customer)
    first = callback(client, **success_params(state))
    assert first.status_code == 200
    assert "Your tenant is connected" in first.content.decode()
    request = ConsentRequest.objects.get()
    assert request.consumed_at is not None and request.outcome == "accepted"

    second = callback(client, **success_params(state))
    assert second.status_code == 400
    assert "already used" in second.content.decode()
    assert rejection("used").customer == customer
    request.refresh_from_db()
    assert request.outcome == "accepted"  # the first result is kept
    assert len(fake_microsoft.token_calls) == 1


def test_missing_state_is_rejected_and_logged_not_audited(
    client: Client, customer, fake_microsoft, caplog: pytest.LogCaptureFixture
) -> None:
    minted_state(client, customer)
    audited = AuditEvent.objects.count()
    params = success_params("")
    del params["state"]
    with caplog.at_level(logging.INFO, logger="onboarding.callback"):
        response = callback(client, **params)
    assert response.status_code == 400
    assert "carried no security code" in response.content.decode()
    assert AuditEvent.objects.count() == audited
    assert callback_log(caplog) == [
        (
            logging.INFO,
            "consent callback refused: reason=missing flow=v2 (no customer; not audited)",
        )
    ]
    assert_nothing_stored(customer)
    assert fake_microsoft.token_calls == []


def test_forged_state_is_rejected_and_logged_not_audited(
    client: Client, customer, fake_microsoft, caplog: pytest.LogCaptureFixture
) -> None:
    state = minted_state(client, customer)
    audited = AuditEvent.objects.count()
    forged = state[:-4] + "AAAA"
    with caplog.at_level(logging.INFO, logger="onboarding.callback"):
        response = callback(client, **success_params(forged))
    assert response.status_code == 400
    assert "not one this portal issued" in response.content.decode()
    assert AuditEvent.objects.count() == audited
    assert callback_log(caplog) == [
        (
            logging.INFO,
            "consent callback refused: reason=unknown flow=v2 (no customer; not audited)",
        )
    ]
    assert forged not in caplog.text and TENANT not in caplog.text  # no parameter values
    assert_nothing_stored(customer)
    assert fake_microsoft.token_calls == []
    # The real state is still usable: a forgery does not burn it.
    assert callback(client, **success_params(state)).status_code == 200


def test_expired_state_is_rejected_and_consumed(client: Client, customer, fake_microsoft) -> None:
    state = minted_state(client, customer)
    ConsentRequest.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    response = callback(client, **success_params(state))
    assert response.status_code == 400
    assert "within 10 minutes" in response.content.decode()
    assert rejection("expired").customer == customer
    assert_nothing_stored(customer)
    assert ConsentRequest.objects.get().consumed_at is not None
    assert fake_microsoft.token_calls == []


def test_state_from_another_browser_session_is_rejected_and_burnt(
    client: Client, customer, fake_microsoft
) -> None:
    state = minted_state(client, customer)
    attacker = Client()
    response = callback(attacker, **success_params(state))
    assert response.status_code == 400
    assert "another browser" in response.content.decode()
    assert rejection("session").customer == customer
    assert_nothing_stored(customer)
    # Consumed whatever the result: the legitimate browser cannot use it afterwards either.
    assert callback(client, **success_params(state)).status_code == 400
    assert fake_microsoft.token_calls == []


def test_state_of_a_replaced_link_is_rejected(client: Client, customer, fake_microsoft) -> None:
    state = minted_state(client, customer)
    links.issue_link(customer=customer, actor_label="test")
    response = callback(client, **success_params(state))
    assert response.status_code == 400
    assert rejection("link").customer == customer
    assert_nothing_stored(customer)


def test_state_is_bound_to_its_customer(client: Client, fake_microsoft) -> None:
    first = factories.CustomerFactory(name="First")
    second = factories.CustomerFactory(name="Second")
    minted_state(client, first)
    state = minted_state(client, second)
    callback(client, **success_params(state))
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.tenant_id is None
    assert str(second.tenant_id) == TENANT


def test_concurrent_reuse_cannot_consume_twice(client: Client, customer) -> None:
    from onboarding.state import StateRejected, consume_state

    state = minted_state(client, customer)
    session = client.session
    consume_state(state=state, session=session)
    with pytest.raises(StateRejected) as info:
        consume_state(state=state, session=session)
    assert info.value.reason == "used"


def test_v1_return_without_state_explains_the_manual_step(
    client: Client, customer, fake_microsoft, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="onboarding.callback"):
        response = callback(
            client,
            code="1.AXYZ",
            session_state="0b6f7f3a-0000-4000-8000-000000000000",
            admin_consent="True",
        )
    assert response.status_code == 200
    assert "tell Your MSSP your tenant ID" in response.content.decode()
    assert not AuditEvent.objects.exists()
    assert callback_log(caplog) == [
        (
            logging.INFO,
            "consent callback refused: reason=missing flow=v1 (no customer; not audited)",
        )
    ]
    assert "1.AXYZ" not in caplog.text
    assert_nothing_stored(customer)


def test_anonymous_callbacks_write_no_audit_rows(client: Client, fake_microsoft) -> None:
    """Anyone can call the callback: without a state this portal issued, nothing is written."""
    requests = [
        {},
        {"admin_consent": "True", "tenant": TENANT},
        {"error": "access_denied", "error_description": "AADSTS65004: declined"},
        {"state": "x" * 43, "admin_consent": "True", "tenant": TENANT},
        {"state": "y" * 5000},
        {"code": "1.AXYZ", "session_state": "0b6f7f3a-0000-4000-8000-000000000000"},
    ]
    for params in requests * 5:
        assert callback(client, **params).status_code in (200, 400)
    assert AuditEvent.objects.count() == 0
    assert fake_microsoft.token_calls == []
