"""Customer reads for the onboarding pages. Every query is scoped through
``tenants.scoping`` (``visible_customers``)."""

from __future__ import annotations

from django.contrib.auth.models import AnonymousUser, User
from django.db.models import Count, QuerySet

from tenants.models import AuditEvent, ConsentState, Customer
from tenants.scoping import visible_customers

# Audit events shown on the tenant page.
AUDIT_TRAIL_LENGTH = 50


def customer_list(*, user: User | AnonymousUser, state: str = "") -> QuerySet[Customer]:
    """Customers ``user`` may see, by name, optionally only those in consent ``state``.

    One query when evaluated (no per-row lookups)."""
    customers = visible_customers(user).only(
        "id",
        "name",
        "primary_domain",
        "tenant_id",
        "consent_state",
        "granted_roles",
        "missing_roles",
        "last_confirmed_at",
        "last_checked_at",
        "last_error_code",
        "last_error",
    )
    if state in ConsentState.values:
        customers = customers.filter(consent_state=state)
    return customers.order_by("name", "id")


def state_counts(*, user: User | AnonymousUser) -> dict[str, int]:
    """{consent state: number of customers ``user`` sees in it}, every state present (one
    query)."""
    counts = {state: 0 for state in ConsentState.values}
    rows = visible_customers(user).values("consent_state").annotate(n=Count("id")).order_by()
    for row in rows:
        counts[row["consent_state"]] = row["n"]
    return counts


def customer_for(*, user: User | AnonymousUser, pk: int) -> Customer | None:
    """The customer ``pk`` if ``user`` may see it, else None."""
    return visible_customers(user).filter(pk=pk).first()


def audit_trail(*, customer: Customer, limit: int = AUDIT_TRAIL_LENGTH) -> list[AuditEvent]:
    """The customer's newest audit events, newest first, with their actor loaded."""
    return list(
        AuditEvent.objects.filter(customer=customer)
        .select_related("actor")
        .order_by("-created_at", "-id")[:limit]
    )
