"""The customer scope: who sees which customer's data."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser, Permission

from incidents.models import Incident
from tenants.scoping import scope_to_user, visible_customers
from tests import factories


@pytest.mark.django_db
def test_administrator_sees_every_customer(admin_user, customer_a, customer_b) -> None:
    assert list(visible_customers(admin_user)) == [customer_a, customer_b]


@pytest.mark.django_db
def test_analyst_sees_only_assigned_customers(analyst_a, customer_a, customer_b) -> None:
    assert list(visible_customers(analyst_a)) == [customer_a]


@pytest.mark.django_db
def test_analyst_granted_view_all_sees_every_customer(analyst_a, customer_a, customer_b) -> None:
    analyst_a.user_permissions.add(Permission.objects.get(codename="view_all_customers"))
    analyst_a = type(analyst_a).objects.get(pk=analyst_a.pk)  # drop the permission cache
    assert list(visible_customers(analyst_a)) == [customer_a, customer_b]


@pytest.mark.django_db
def test_outsider_inactive_and_anonymous_see_nothing(outsider, analyst_a, customer_a) -> None:
    analyst_a.is_active = False
    assert list(visible_customers(outsider)) == []
    assert list(visible_customers(analyst_a)) == []
    assert list(visible_customers(AnonymousUser())) == []


@pytest.mark.django_db
def test_scope_to_user_filters_incidents_by_assignment(
    analyst_a, analyst_b, customer_a, customer_b
) -> None:
    mine = factories.IncidentFactory(customer=customer_a)
    theirs = factories.IncidentFactory(customer=customer_b)
    assert list(scope_to_user(Incident.objects.all(), analyst_a)) == [mine]
    assert list(scope_to_user(Incident.objects.all(), analyst_b)) == [theirs]
    assert list(scope_to_user(Incident.objects.all(), AnonymousUser())) == []


@pytest.mark.django_db
def test_scope_to_user_adds_no_query(analyst_a, customer_a, django_assert_num_queries) -> None:
    factories.IncidentFactory(customer=customer_a)
    analyst_a.get_all_permissions()  # permission cache warmed, as in a request
    with django_assert_num_queries(1):
        list(scope_to_user(Incident.objects.all(), analyst_a))
