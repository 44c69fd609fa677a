"""``link_tenant_manually`` (the v1 path used by the tenant page and ``connect_tenant``): a
domain entered for a customer without a primary domain becomes its primary domain once the
tenant is connected."""

from __future__ import annotations

import pytest

from microsoft import entra, errors
from onboarding.services import link_tenant_manually
from tenants.models import AuditAction, AuditEvent
from tests import factories
from tests.onboarding.fakes import TENANT, FakeMicrosoft

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def resolves_contoso(monkeypatch: pytest.MonkeyPatch) -> None:
    """OpenID discovery stand-in: contoso.example resolves to TENANT; GUIDs to themselves."""

    def resolve(value: str) -> str:
        try:
            return entra.normalize_tenant_id(value)
        except ValueError:
            pass
        if value.strip().lower().rstrip(".") == "contoso.example":
            return TENANT
        raise errors.TenantNotFoundError("not found", aadsts=90002)

    monkeypatch.setattr(entra, "resolve_tenant_id", resolve)


def test_entered_domain_becomes_the_primary_domain(fake_microsoft: FakeMicrosoft) -> None:
    customer = factories.CustomerFactory(name="Contoso", primary_domain="")
    result = link_tenant_manually(
        customer=customer, tenant_or_domain=" Contoso.Example. ", actor_label="test"
    )
    assert result.ok
    assert result.customer.primary_domain == "contoso.example"
    customer.refresh_from_db()
    assert customer.primary_domain == "contoso.example"
    event = AuditEvent.objects.get(action=AuditAction.CUSTOMER_UPDATED)
    assert (event.actor_label, event.detail) == ("test", {"fields": ["primary_domain"]})


def test_existing_primary_domain_is_kept(fake_microsoft: FakeMicrosoft) -> None:
    customer = factories.CustomerFactory(name="Contoso", primary_domain="contoso.com")
    assert link_tenant_manually(
        customer=customer, tenant_or_domain="contoso.example", actor_label="test"
    ).ok
    customer.refresh_from_db()
    assert customer.primary_domain == "contoso.com"
    assert not AuditEvent.objects.filter(action=AuditAction.CUSTOMER_UPDATED).exists()


@pytest.mark.parametrize("entered", [TENANT, TENANT.upper(), "{" + TENANT + "}"])
def test_entered_tenant_id_is_not_a_domain(fake_microsoft: FakeMicrosoft, entered: str) -> None:
    customer = factories.CustomerFactory(name="Contoso", primary_domain="")
    assert link_tenant_manually(customer=customer, tenant_or_domain=entered, actor_label="t").ok
    customer.refresh_from_db()
    assert customer.primary_domain == ""


def test_domain_is_not_recorded_when_the_tenant_is_not_connected(
    fake_microsoft: FakeMicrosoft,
) -> None:
    fake_microsoft.roles = []
    customer = factories.CustomerFactory(name="Contoso", primary_domain="")
    result = link_tenant_manually(
        customer=customer, tenant_or_domain="contoso.example", actor_label="test"
    )
    assert not result.ok
    customer.refresh_from_db()
    assert customer.primary_domain == ""
