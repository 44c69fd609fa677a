"""What every dashboard read starts from: the user's scope and the list's filters.

``scoped_incidents``, ``customer_choices``, ``visible_customer_ids`` and ``customer_scope`` go
through ``tenants.scoping``; the other selector modules build on them, so none of them can return
another customer's data.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import timedelta
from typing import NamedTuple

from django.contrib.auth.models import AnonymousUser
from django.contrib.auth.models import User as AuthUser
from django.db.models import QuerySet

from dashboard.filters import UNASSIGNED, IncidentFilters
from incidents.models import SEVERITY_RANK, Incident, IncidentStatus
from tenants.scoping import scope_to_user, sees_all_customers, visible_customers

User = AuthUser | AnonymousUser
# Open incidents. The partial index incident_open_partial_idx (migration 0003) has exactly
# this predicate; a query must repeat it to be served by that index.
OPEN_STATUSES = (IncidentStatus.ACTIVE.value, IncidentStatus.IN_PROGRESS.value)
# Severity names from most to least severe, as SEVERITY_RANK orders them.
SEVERITIES_DESC = [name for name, _rank in sorted(SEVERITY_RANK.items(), key=lambda kv: -kv[1])]
RANK_TO_SEVERITY = {rank: name for name, rank in SEVERITY_RANK.items()}


def customer_choices(user: User) -> list[tuple[int, str]]:
    """``[(pk, name)]`` of the customers ``user`` sees, by name (1 query). For the page that
    shows the customer selector; requests without it use ``customer_scope``."""
    return list(visible_customers(user).order_by("name").values_list("pk", "name"))


def visible_customer_ids(user: User, *, among: Collection[int] | None = None) -> list[int]:
    """Pks of the customers ``user`` sees, all of them or only those in ``among`` (e.g. the
    customer filter's requested pks), unordered. 1 query; none if ``among`` is empty."""
    if among is not None and not among:
        return []
    customers = visible_customers(user)
    if among is not None:
        customers = customers.filter(pk__in=list(among))
    return list(customers.order_by().values_list("pk", flat=True))


class CustomerScope(NamedTuple):
    """What a list request needs to know of the user's customers, without their names.

    ``allowed``: the requested customer pks the user sees (for ``parse_filters``).
    ``visible_ids``: for a user who does not see every customer, the pks of all the customers
    they see (``incident_page``'s and ``export_rows``' ``visible_ids``); None for a user who
    sees every customer, for whom those selectors do not use it.
    """

    allowed: list[int]
    visible_ids: list[int] | None


def customer_scope(user: User, requested: Collection[int]) -> CustomerScope:
    """``CustomerScope`` of ``user`` for the ``requested`` customer pks: at most 1 query (the
    visible customers' pks for a user who does not see them all, else the requested customers
    that exist; none for a user who sees every customer and requested none)."""
    if sees_all_customers(user):
        return CustomerScope(allowed=visible_customer_ids(user, among=requested), visible_ids=None)
    visible = visible_customer_ids(user)
    seen = set(visible)
    return CustomerScope(allowed=[pk for pk in requested if pk in seen], visible_ids=visible)


def scoped_incidents(user: User) -> QuerySet[Incident]:
    """All incidents ``user`` may see (lazy)."""
    return scope_to_user(Incident.objects.all(), user)


def filter_incidents(
    queryset: QuerySet[Incident], filters: IncidentFilters, *, dates: bool = True
) -> QuerySet[Incident]:
    """Apply ``filters`` to an incident queryset. ``dates=False`` skips the date range (the
    chart applies its own). Does not scope: pass a scoped queryset, or scope the result."""
    if filters.customer_ids:
        queryset = queryset.filter(customer_id__in=filters.customer_ids)
    if filters.severities:
        queryset = queryset.filter(severity_rank__in=[SEVERITY_RANK[s] for s in filters.severities])
    if filters.statuses:
        queryset = queryset.filter(status__in=filters.statuses)
    if filters.classification:
        queryset = queryset.filter(classification=filters.classification)
    if filters.assigned == UNASSIGNED:
        queryset = queryset.filter(assigned_to="")
    elif filters.assigned:
        queryset = queryset.filter(assigned_to=filters.assigned)
    if filters.source:
        queryset = queryset.filter(service_sources_key__contains=f"|{filters.source}|")
    if filters.q:
        # search_text (incident name, alert titles, users, devices, IPs) is stored lowercased,
        # so a case-sensitive LIKE on the lowercased term is a case-insensitive search that
        # PostgreSQL's trigram index (gin_trgm_ops, migration 0002) can serve.
        queryset = queryset.filter(search_text__contains=filters.q)
    if dates:
        lo, hi = filters.date_range
        column = "created_time" if filters.date_field == "created" else "last_update_time"
        if lo:
            queryset = queryset.filter(**{f"{column}__gte": lo})
        if hi:
            queryset = queryset.filter(**{f"{column}__lt": hi})
            if column == "last_update_time":
                # An incident is created before its last update, so this bound changes no
                # result; it lets the created-time index start at the range instead of
                # skipping every newer incident (a day of slack for clock skew).
                queryset = queryset.filter(created_time__lt=hi + timedelta(days=1))
    return queryset
