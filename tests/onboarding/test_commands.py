"""``onboarding_link`` and ``connect_tenant``: same services and checks as the pages."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, ManagementUtility, call_command
from django.db import connections

from microsoft import errors
from onboarding import links
from onboarding.models import OnboardingLink
from tenants.models import AuditAction, AuditEvent, ConsentState, Customer
from tests import factories
from tests.onboarding.fakes import TENANT

pytestmark = pytest.mark.django_db


def run(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue().strip(), err.getvalue().strip()


def test_onboarding_link_creates_the_customer_and_prints_its_link(settings) -> None:
    settings.PORTAL_URL = "https://portal.mssp.example"
    out, err = run("onboarding_link", "Tailspin Toys")
    customer = Customer.objects.get(name="Tailspin Toys")
    link = OnboardingLink.objects.get(customer=customer)
    assert out == f"https://portal.mssp.example/onboarding/l/{links.link_token(link)}/"
    assert err.startswith("Created Tailspin Toys")
    created = AuditEvent.objects.get(action=AuditAction.CUSTOMER_CREATED)
    assert created.actor_label == "command line" and created.actor is None


def test_onboarding_link_reprints_the_valid_link_or_issues_a_new_one() -> None:
    first, _ = run("onboarding_link", "Tailspin Toys")
    again, err = run("onboarding_link", "tailspin toys")
    assert again == first
    assert err.startswith("Customer Tailspin Toys")
    new, _ = run("onboarding_link", "Tailspin Toys", "--new")
    assert new != first
    assert Customer.objects.count() == 1
    assert OnboardingLink.objects.filter(revoked_at__isnull=True).count() == 1


def test_connect_tenant_confirms_and_prints_the_outcome(fake_microsoft) -> None:
    out, _ = run("connect_tenant", "Contoso", TENANT.upper())
    assert out == f"Contoso: connected; tenant {TENANT}; roles Incident.Read.All."
    customer = Customer.objects.get(name="Contoso")
    assert customer.consent_state == ConsentState.CONNECTED
    assert str(customer.tenant_id) == TENANT
    assert customer.primary_domain == ""
    assert fake_microsoft.token_calls == [(TENANT, True)]


def test_connect_tenant_fails_with_nonzero_exit_when_not_confirmed(fake_microsoft) -> None:
    fake_microsoft.token_error = errors.ConsentMissingError("no service principal", aadsts=7000229)
    factories.CustomerFactory(name="Contoso")
    with pytest.raises(CommandError) as info:
        run("connect_tenant", "Contoso", TENANT)
    assert str(info.value) == (
        f"Contoso: not connected; tenant {TENANT}; failed [AADSTS7000229]: no service principal"
    )
    assert Customer.objects.get(name="Contoso").tenant_id is None


def test_connect_tenant_refuses_garbage(fake_microsoft) -> None:
    with pytest.raises(CommandError) as info:
        run("connect_tenant", "Contoso", "not a tenant!")
    assert "invalid_tenant" in str(info.value)
    assert fake_microsoft.token_calls == []


def test_connect_tenant_with_domain_against_emulator(portal_emulator) -> None:
    tenant = portal_emulator.tenant(name="Woodgrove Bank")
    out, _ = run("connect_tenant", "Woodgrove", tenant.domain)
    assert out.startswith(f"Woodgrove: connected; tenant {tenant.tenant_id}; roles ")
    customer = Customer.objects.get(name="Woodgrove")
    assert customer.primary_domain == tenant.domain
    assert customer.consent_state == ConsentState.CONNECTED


def test_connect_tenant_exits_1_from_the_command_line(fake_microsoft, capsys, monkeypatch) -> None:
    fake_microsoft.roles = []
    # run_from_argv closes every connection on exit; keep the test transaction's connection.
    monkeypatch.setattr(connections, "close_all", lambda: None)
    with pytest.raises(SystemExit) as info:
        ManagementUtility(["manage.py", "connect_tenant", "Contoso", TENANT]).execute()
    assert info.value.code == 1
    assert "missing_roles" in capsys.readouterr().err
    assert Customer.objects.get(name="Contoso").consent_state == (ConsentState.MISSING_PERMISSIONS)


def test_onboarding_link_normalises_the_name_and_reuses_it_ignoring_case() -> None:
    first, err = run("onboarding_link", "  Tailspin \t Toys ")
    assert err.startswith("Created Tailspin Toys")
    again, err = run("onboarding_link", "TAILSPIN TOYS")
    assert again == first and err.startswith("Customer Tailspin Toys")
    assert list(Customer.objects.values_list("name", flat=True)) == ["Tailspin Toys"]


@pytest.mark.parametrize("args", [["onboarding_link", "   "], ["connect_tenant", " \t ", TENANT]])
def test_commands_refuse_an_empty_name(fake_microsoft, args: list[str]) -> None:
    with pytest.raises(CommandError) as info:
        run(*args)
    assert str(info.value) == "Enter a display name."
    assert not Customer.objects.exists()
    assert fake_microsoft.token_calls == []


def test_connect_tenant_keeps_an_existing_primary_domain(portal_emulator) -> None:
    tenant = portal_emulator.tenant(name="Woodgrove Bank")
    factories.CustomerFactory(name="Woodgrove", primary_domain="woodgrove.example")
    out, _ = run("connect_tenant", "woodgrove", tenant.domain)
    assert out.startswith(f"Woodgrove: connected; tenant {tenant.tenant_id}; roles ")
    assert Customer.objects.get().primary_domain == "woodgrove.example"
