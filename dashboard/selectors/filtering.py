"""What every dashboard read starts from: the user's scope and the list's filters.

``scoped_incidents`` and ``customer_choices`` go through ``tenants.scoping``; the other
selector modules build on them, so none of them can return another customer's data.
"""

from __future__ import annotations

from datetime import timedelta

from django.contrib.auth.models import AnonymousUser
from django.contrib.auth.models import User as AuthUser
from django.db.models import QuerySet

from dashboard.filters import UNASSIGNED, IncidentFilters
from incidents.models import SEVERITY_RANK, Incident, IncidentStatus
from tenants.scoping import scope_to_user, visible_customers

User = AuthUser | AnonymousUser
# Open incidents. The partial index incident_open_partial_idx (migration 0003) has exactly
# this predicate; a query must repeat it to be served by that index.
OPEN_STATUSES = (IncidentStatus.ACTIVE.value, IncidentStatus.IN_PROGRESS.value)
# Severity names from most to least severe, as SEVERITY_RANK orders them.
SEVERITIES_DESC = [name for name, _rank in sorted(SEVERITY_RANK.items(), key=lambda kv: -kv[1])]
RANK_TO_SEVERITY = {rank: name for name, rank in SEVERITY_RANK.items()}


def customer_choices(user: User) -> list[tuple[int, str]]:
    """``[(pk, name)]`` of the customers ``user`` sees, by name (1 query)."""
    return list(visible_customers(user).order_by("name").values_list("pk", "name"))


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
