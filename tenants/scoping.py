"""The one place that decides which customers a portal user may see.

Every view, export, selector and admin list that reads customer data goes through
``visible_customers`` or ``scope_to_user``; nothing else filters by customer assignment.

Rule: a user with ``tenants.view_all_customers`` (MSSP administrators, or analysts granted it)
sees every customer; any other active user sees the customers in ``Customer.assigned_users``;
anonymous or inactive users see nothing.
"""

from __future__ import annotations

from typing import TypeVar

from django.contrib.auth.models import AnonymousUser, User
from django.db.models import Model, QuerySet

from tenants.models import Customer

M = TypeVar("M", bound=Model)


def sees_all_customers(user: User | AnonymousUser) -> bool:
    """True if ``user`` may see every customer's data."""
    return bool(
        user.is_authenticated and user.is_active and user.has_perm("tenants.view_all_customers")  # type: ignore[union-attr]
    )


def visible_customers(user: User | AnonymousUser) -> QuerySet[Customer]:
    """Customers whose data ``user`` may see (a lazy queryset; no query until evaluated)."""
    if not (user.is_authenticated and user.is_active):
        return Customer.objects.none()
    if sees_all_customers(user):
        return Customer.objects.all()
    return Customer.objects.filter(assigned_users=user)


def scope_to_user(
    queryset: QuerySet[M],
    user: User | AnonymousUser,
    *,
    customer_field: str = "customer",
) -> QuerySet[M]:
    """Restrict ``queryset`` to rows of customers ``user`` may see.

    ``customer_field`` is the lookup path from the model to ``Customer`` ("customer" for
    incidents and alerts, "" for Customer itself). Uses a subquery, so it adds no round trip.
    """
    if not (user.is_authenticated and user.is_active):
        return queryset.none()
    if sees_all_customers(user):
        return queryset
    lookup = f"{customer_field}__in" if customer_field else "pk__in"
    return queryset.filter(**{lookup: Customer.objects.filter(assigned_users=user).values("pk")})
