"""Automatic re-checks after a consent callback whose confirmation may succeed a little later
(onboarding.rechecks, task onboarding.recheck_consent)."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from microsoft import errors
from onboarding import rechecks, tasks
from tenants.models import AuditAction, AuditEvent, ConsentState
from tests import factories
from tests.onboarding.fakes import TENANT, callback, minted_state

pytestmark = pytest.mark.django_db


@pytest.fixture
def customer():  # type: ignore[no-untyped-def]
    return factories.CustomerFactory(name="Contoso")


@pytest.fixture
def published(monkeypatch: pytest.MonkeyPatch) -> list[tuple[tuple[int, int], float]]:
    """Re-check tasks that would be sent: ((customer id, attempt), countdown)."""
    sent: list[tuple[tuple[int, int], float]] = []

    def apply_async(args: tuple[int, int], *, countdown: float) -> None:
        sent.append((tuple(args), countdown))  # type: ignore[arg-type]

    monkeypatch.setattr(tasks.recheck_consent, "apply_async", apply_async)
    return sent


def accept(client: Client, customer: Any, capture: Any) -> Any:
    state = minted_state(client, customer)
    with capture(execute=True):
        return callback(client, admin_consent="True", tenant=TENANT, state=state)


@pytest.mark.parametrize(
    "exc",
    [
        errors.ConsentMissingError("no service principal", aadsts=7000229),
        errors.TransientError("Entra ID token endpoint unreachable", code="token_network"),
        errors.ThrottledError("throttled", retry_after=30),
    ],
)
def test_a_confirmation_that_may_pass_later_is_rechecked_automatically(
    client: Client,
    customer: Any,
    fake_microsoft: Any,
    published: list[Any],
    django_capture_on_commit_callbacks: Any,
    exc: errors.MicrosoftError,
) -> None:
    fake_microsoft.token_error = exc

    response = accept(client, customer, django_capture_on_commit_callbacks)

    assert "will check again" in response.content.decode()
    assert published == [((customer.pk, 1), 60)]


def test_the_automatic_recheck_connects_once_microsoft_shows_the_consent(
    client: Client,
    customer: Any,
    fake_microsoft: Any,
    published: list[Any],
    django_capture_on_commit_callbacks: Any,
) -> None:
    fake_microsoft.token_error = errors.ConsentMissingError("no service principal", aadsts=7000229)
    accept(client, customer, django_capture_on_commit_callbacks)
    fake_microsoft.token_error = None  # the consent has propagated

    with django_capture_on_commit_callbacks(execute=True):
        tasks.recheck_consent(customer.pk, 1)

    customer.refresh_from_db()
    assert (customer.consent_state, str(customer.tenant_id)) == (ConsentState.CONNECTED, TENANT)
    assert published == [((customer.pk, 1), 60)]  # no further attempt
    connected = AuditEvent.objects.get(customer=customer, action=AuditAction.CONFIRMED)
    assert connected.actor_label == "automatic re-check"


def test_rechecks_follow_the_delays_and_then_stop(
    client: Client,
    customer: Any,
    fake_microsoft: Any,
    published: list[Any],
    django_capture_on_commit_callbacks: Any,
    settings: Any,
) -> None:
    settings.ONBOARDING_RECHECK_DELAYS = [10, 20]
    fake_microsoft.token_error = errors.ConsentMissingError("no service principal", aadsts=7000229)
    accept(client, customer, django_capture_on_commit_callbacks)

    with django_capture_on_commit_callbacks(execute=True):
        tasks.recheck_consent(customer.pk, 1)
        tasks.recheck_consent(customer.pk, 2)

    assert published == [((customer.pk, 1), 10), ((customer.pk, 2), 20)]
    assert len(fake_microsoft.token_calls) == 3
    customer.refresh_from_db()
    assert customer.consent_state == ConsentState.PENDING


def test_a_failure_that_will_not_pass_by_itself_is_not_rechecked(
    client: Client,
    customer: Any,
    fake_microsoft: Any,
    published: list[Any],
    django_capture_on_commit_callbacks: Any,
) -> None:
    fake_microsoft.token_error = errors.AppCredentialsError("wrong secret", aadsts=7000215)

    accept(client, customer, django_capture_on_commit_callbacks)

    assert published == []


@pytest.mark.parametrize("state", [ConsentState.CONNECTED, ConsentState.OFFBOARDED])
def test_connected_or_offboarded_customers_are_left_alone(
    fake_microsoft: Any, published: list[Any], state: str
) -> None:
    customer = factories.ConnectedCustomerFactory(name="Done", consent_state=state)

    assert rechecks.run_recheck(customer_id=customer.pk, attempt=1) is None
    assert fake_microsoft.token_calls == []
    assert published == []


def test_a_deleted_customer_is_left_alone(fake_microsoft: Any, published: list[Any]) -> None:
    assert rechecks.run_recheck(customer_id=987654, attempt=1) is None
    assert fake_microsoft.token_calls == []
