"""Customer writes in ``tenants.services``: the naming rule (whitespace collapsed, unique ignoring
case) holds for every caller (pages, commands, code) and in the database; assigned users are
changed through an audited service."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.test import Client

from tenants import services
from tenants.models import AuditAction, AuditEvent, Customer
from tests import factories

pytestmark = pytest.mark.django_db


def test_create_customer_collapses_whitespace_in_the_name() -> None:
    customer = services.create_customer(name="  Tailspin \t  Toys\n", actor_label="test")
    assert customer.name == "Tailspin Toys"
    assert Customer.objects.get().name == "Tailspin Toys"


@pytest.mark.parametrize("name", ["contoso", "CONTOSO", "  Contoso ", "ConTosO"])
def test_create_customer_refuses_a_name_taken_ignoring_case(name: str) -> None:
    factories.CustomerFactory(name="Contoso")
    with pytest.raises(ValidationError) as info:
        services.create_customer(name=name, actor_label="test")
    assert info.value.messages == ["A customer with this name already exists."]
    assert info.value.error_list[0].code == "unique"
    assert Customer.objects.count() == 1
    assert not AuditEvent.objects.exists()


@pytest.mark.parametrize("name", ["", "   ", "\t\n"])
def test_create_customer_refuses_an_empty_name(name: str) -> None:
    with pytest.raises(ValidationError) as info:
        services.create_customer(name=name, actor_label="test")
    assert info.value.messages == ["Enter a display name."]
    assert not Customer.objects.exists()


def test_create_customer_refuses_a_name_over_200_characters() -> None:
    with pytest.raises(ValidationError) as info:
        services.create_customer(name="x" * 201, actor_label="test")
    assert info.value.messages == ["The display name is longer than 200 characters."]
    assert services.create_customer(name="x" * 200, actor_label="test").name == "x" * 200


def test_name_taken_between_check_and_insert_is_a_validation_error(monkeypatch) -> None:
    """The database constraint backs the check: a concurrent insert still gives a clear error
    and leaves nothing half-written (no audit event, no link)."""
    factories.CustomerFactory(name="Contoso")
    monkeypatch.setattr(services, "clean_customer_name", lambda name, **kw: name)
    with pytest.raises(ValidationError) as info:
        services.create_customer(name="contoso", actor_label="test")
    assert info.value.messages == ["A customer with this name already exists."]
    assert list(Customer.objects.values_list("name", flat=True)) == ["Contoso"]
    assert not AuditEvent.objects.exists()


def test_database_refuses_names_equal_ignoring_case() -> None:
    factories.CustomerFactory(name="Contoso")
    with pytest.raises(IntegrityError), transaction.atomic():
        Customer.objects.create(name="cONTOSO")
    assert Customer.objects.count() == 1


def test_get_or_create_customer_matches_ignoring_case_and_spacing() -> None:
    existing = factories.CustomerFactory(name="Tailspin Toys")
    customer, created = services.get_or_create_customer(name=" tailspin   TOYS ")
    assert (customer, created) == (existing, False)
    other, created = services.get_or_create_customer(name="  Wide   World ")
    assert created and other.name == "Wide World"
    assert Customer.objects.count() == 2


def test_get_or_create_customer_refuses_an_empty_name() -> None:
    with pytest.raises(ValidationError):
        services.get_or_create_customer(name="   ")
    assert not Customer.objects.exists()


def test_update_customer_normalises_and_checks_the_new_name() -> None:
    factories.CustomerFactory(name="Fabrikam")
    customer = factories.CustomerFactory(name="Contoso")
    with pytest.raises(ValidationError) as info:
        services.update_customer(customer=customer, actor_label="test", name="fabrikam")
    assert info.value.messages == ["A customer with this name already exists."]
    customer.refresh_from_db()
    assert customer.name == "Contoso"
    # Changing only the case (or spacing) of its own name is allowed.
    services.update_customer(customer=customer, actor_label="test", name=" CONTOSO  ")
    customer.refresh_from_db()
    assert customer.name == "CONTOSO"
    event = AuditEvent.objects.get(action=AuditAction.CUSTOMER_UPDATED)
    assert event.detail == {"fields": ["name"]}


def test_edit_page_refuses_another_customers_name_in_other_case(client: Client, admin_user) -> None:
    factories.CustomerFactory(name="Fabrikam")
    customer = factories.CustomerFactory(name="Contoso")
    client.force_login(admin_user)
    response = client.post(
        f"/customers/{customer.pk}/edit/",
        {"name": "  FABRIKAM ", "primary_domain": "", "contacts": "", "notes": ""},
    )
    assert response.status_code == 200
    assert "A customer with this name already exists." in response.content.decode()
    customer.refresh_from_db()
    assert customer.name == "Contoso"


def test_set_assigned_users_is_audited(admin_user, analyst_a, analyst_b) -> None:
    customer = factories.CustomerFactory(name="Contoso")
    customer.assigned_users.add(analyst_b)
    services.set_assigned_users(
        customer=customer, users=[analyst_a], actor=admin_user, actor_label="test"
    )
    assert list(customer.assigned_users.all()) == [analyst_a]
    event = AuditEvent.objects.get(action=AuditAction.CUSTOMER_UPDATED)
    assert event.actor == admin_user
    assert event.detail == {
        "fields": ["assigned_users"],
        "added": [analyst_a.username],
        "removed": [analyst_b.username],
    }
    assert event.message == (
        f"Assigned users changed: added {analyst_a.username}; removed {analyst_b.username}."
    )
    # The same set again writes nothing.
    services.set_assigned_users(customer=customer, users=[analyst_a], actor_label="test")
    assert AuditEvent.objects.filter(action=AuditAction.CUSTOMER_UPDATED).count() == 1
