"""The incident list and its CSV export: one keyset page at a time, in the list's sort order.

Plans (PostgreSQL, measured on 1,000 customers and 1,000,000 incidents by
``benchmarks/dashboard_queries.py``):

- No free text, at most PER_CUSTOMER_MERGE_MAX candidate customers (an analyst's, or the
  customer filter): each customer's first rows come from its (customer, sort key, id) index
  (migration 0003) and are merged, instead of sorting every incident of those customers.
- Free text: one query with the candidate customers as a literal list
  (``customer_id IN (1, 2, ...)``), so the planner sees how many rows they hold and picks
  the trigram index (a rare term), an ordered index scan that stops after a page (a common
  term), or the customers' own indexes. The scope check is applied around that query, not
  inside it, where its subquery would hide the customers from the planner's estimates.
- Otherwise: one ordered scan of the scoped, filtered incidents.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import datetime

from django.db import connection
from django.db.models import QuerySet

from dashboard.filters import IncidentFilters
from dashboard.pagination import Cursor, after, order_by_fields
from dashboard.selectors.filtering import User, filter_incidents, scoped_incidents
from incidents.models import SEVERITY_RANK, Incident
from tenants.scoping import sees_all_customers

# Columns the incident list and export read (the big JSON columns stay in the database).
LIST_FIELDS = (
    "id",
    "incident_id",
    "name",
    "severity",
    "severity_rank",
    "status",
    "classification",
    "determination",
    "assigned_to",
    "created_time",
    "last_update_time",
    "alert_count",
    "service_sources",
    "incident_uri",
    "first_synced_at",
    "customer__id",
    "customer__name",
    "customer__tenant_id",
)
# Up to this many candidate customers, a list without free text reads each customer's top
# rows from its (customer, sort key, id) index and merges them (PostgreSQL).
PER_CUSTOMER_MERGE_MAX = 50


@dataclass
class IncidentPage:
    """One page of the list: ``rows`` (Incidents with ``customer`` loaded), ``next_cursor``
    (None on the last page) and ``is_first``."""

    rows: list[Incident]
    next_cursor: Cursor | None
    is_first: bool


def _candidates(
    user: User, filters: IncidentFilters, visible_ids: list[int] | None
) -> list[int] | None:
    """The customers the page can come from, when fewer than all: the customer filter, else
    (for a user who does not see every customer) ``visible_ids``. Never a customer outside
    ``visible_ids`` when that is given. None if unknown or unrestricted."""
    if filters.customer_ids:
        if visible_ids is None:
            return list(filters.customer_ids)
        visible = set(visible_ids)
        return [pk for pk in filters.customer_ids if pk in visible]
    if visible_ids is not None and not sees_all_customers(user):
        return list(visible_ids)
    return None


def _text_search(
    user: User,
    filters: IncidentFilters,
    cursor: Cursor | None,
    candidates: list[int],
    order: list[str],
    size: int,
) -> QuerySet[Incident]:
    """The scoped incidents whose pks are the page's, found by one subquery over the
    ``candidates`` (a literal list) that the planner is free to plan (see the module doc)."""
    unscoped = filter_incidents(
        Incident.objects.filter(customer_id__in=candidates),
        replace(filters, customer_ids=()),
    )
    if cursor is not None:
        unscoped = after(unscoped, cursor)
    page_ids = unscoped.order_by(*order).values("id")[: size + 1]
    return scoped_incidents(user).filter(pk__in=page_ids)


def _per_customer_merge(
    user: User, queryset: QuerySet[Incident], candidates: list[int], order: list[str], size: int
) -> QuerySet[Incident]:
    """The scoped incidents among each candidate customer's first ``size + 1`` rows of
    ``queryset`` (a UNION ALL of small index scans in an ``IN`` subquery)."""
    parts = [
        queryset.filter(customer_id=pk).order_by(*order).values_list("id")[: size + 1]
        for pk in candidates
    ]
    merged = parts[0].union(*parts[1:], all=True) if len(parts) > 1 else parts[0]
    return scoped_incidents(user).filter(pk__in=merged)


def incident_page(
    user: User,
    filters: IncidentFilters,
    *,
    cursor: Cursor | None,
    size: int,
    visible_ids: list[int] | None = None,
) -> IncidentPage:
    """The page of ``size`` incidents after ``cursor`` in ``filters.sort`` order (1 query).

    Reads ``size + 1`` rows to know whether a next page exists; never counts. ``visible_ids``
    (the pks of ``customer_choices``, or ``customer_scope(...).visible_ids``) lets an analyst's
    list read per customer (see the module doc); rows are always scoped to ``user`` as well.
    """
    order = order_by_fields(filters.sort)
    candidates = _candidates(user, filters, visible_ids)
    queryset = filter_incidents(scoped_incidents(user), filters)
    if cursor is not None:
        queryset = after(queryset, cursor)
    if filters.q and candidates and connection.vendor == "postgresql":
        queryset = _text_search(user, filters, cursor, candidates, order, size)
    elif (
        not filters.q
        and candidates
        and len(candidates) <= PER_CUSTOMER_MERGE_MAX
        and connection.features.supports_slicing_ordering_in_compound
    ):
        queryset = _per_customer_merge(user, queryset, candidates, order, size)
    queryset = queryset.select_related("customer").only(*LIST_FIELDS).order_by(*order)
    rows = list(queryset[: size + 1])
    more = len(rows) > size
    rows = rows[:size]
    next_cursor = Cursor.for_row(filters.sort, rows[-1]) if more and rows else None
    return IncidentPage(rows=rows, next_cursor=next_cursor, is_first=cursor is None)


def export_rows(
    user: User,
    filters: IncidentFilters,
    *,
    limit: int,
    chunk: int = 2000,
    visible_ids: list[int] | None = None,
) -> Iterator[Incident]:
    """Yield up to ``limit`` incidents of the filtered view in list order, reading ``chunk``
    rows per query by keyset (no long-lived cursor, no OFFSET)."""
    cursor: Cursor | None = None
    remaining = limit
    while remaining > 0:
        page = incident_page(
            user, filters, cursor=cursor, size=min(chunk, remaining), visible_ids=visible_ids
        )
        yield from page.rows
        remaining -= len(page.rows)
        if page.next_cursor is None:
            return
        cursor = page.next_cursor


def new_high_since(rows: list[Incident], since: datetime | None) -> set[int]:
    """Pks of High incidents in ``rows`` first stored after ``since`` (no query)."""
    if since is None:
        return set()
    return {
        r.pk for r in rows if r.severity_rank == SEVERITY_RANK["High"] and r.first_synced_at > since
    }
