"""The tenant overview: every visible customer with its consent state, open incidents by
severity and sync freshness, a page at a time, those needing attention first.

Two queries per page whatever the number of customers: the number of customers (and of stale
ones) for the pager, and the page's rows as plain values. The order needs every customer's
open High count: a correlated count served by the partial index of open incidents
(customer_id, severity_rank), a few index entries per customer. An inner query picks the
page's customers by that order (LIMIT/OFFSET over the small customers table); the outer one
reads their columns, sync state and open counts of every severity for those rows only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, overload

from django.core.paginator import Page, Paginator
from django.db.models import (
    Case,
    Count,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.utils import timezone

from dashboard.selectors.filtering import OPEN_STATUSES, SEVERITIES_DESC, User
from dashboard.selectors.summaries import is_stale, stale_after
from incidents.models import SEVERITY_RANK, Incident
from tenants.models import ConsentState, Customer
from tenants.scoping import visible_customers

# Customers per page of the overview.
OVERVIEW_PAGE_SIZE = 100
# Consent states that need the customer's administrator (shown first).
CONSENT_PROBLEMS = (
    ConsentState.ERROR,
    ConsentState.CONSENT_REVOKED,
    ConsentState.MISSING_PERMISSIONS,
)
# Plain columns of a row, in OverviewRow's order (open counts follow).
_COLUMNS = (
    "pk",
    "name",
    "primary_domain",
    "consent_state",
    "missing_roles",
    "last_error_code",
    "last_error",
    "sync_state__last_outcome",
    "sync_state__last_finished_at",
    "sync_state__last_success_at",
    "sync_state__last_error",
)
_OPEN_COLUMNS = tuple(f"open_{name.lower()}" for name in SEVERITIES_DESC)


@dataclass(slots=True)
class OverviewRow:
    """One customer of the overview, as plain values. ``open_counts`` holds the open
    (Active, InProgress) incidents per severity, most severe first (SEVERITIES_DESC);
    ``last_outcome`` is "" and the sync fields None/"" for a customer never synced."""

    customer_id: int
    name: str
    primary_domain: str
    consent_state: str
    missing_roles: list[str]
    last_error_code: str
    last_error: str
    last_outcome: str
    last_finished_at: datetime | None
    last_success_at: datetime | None
    sync_error: str
    open_counts: tuple[int, ...]
    is_stale: bool


@dataclass
class TenantOverview:
    """A page of the overview: ``page`` (a Django Page whose items are ``rows``), ``total``
    customers visible and how many of them are stale (``stale_count``, all pages)."""

    page: Page[OverviewRow]
    rows: list[OverviewRow]
    total: int
    stale_count: int


def _open_count(rank: int) -> Coalesce:
    """Open incidents of the outer customer with severity ``rank`` (0 if none)."""
    count = (
        Incident.objects.filter(
            customer_id=OuterRef("pk"), status__in=OPEN_STATUSES, severity_rank=rank
        )
        .order_by()
        .values("customer_id")
        .annotate(n=Count("*"))
        .values("n")
    )
    return Coalesce(Subquery(count, output_field=IntegerField()), 0)


def _stale(cutoff: datetime) -> Q:
    """Connected and no successful sync since ``cutoff`` (or never)."""
    return Q(consent_state=ConsentState.CONNECTED) & (
        Q(sync_state__last_success_at__isnull=True) | Q(sync_state__last_success_at__lt=cutoff)
    )


def _attention(cutoff: datetime) -> Case:
    """0 consent problem, 1 sync problem (failed, stale or a connection error), 2 other,
    3 offboarded."""
    sync_problem = Q(consent_state=ConsentState.CONNECTED) & (
        Q(last_error__gt="") | Q(sync_state__last_error__gt="") | _stale(cutoff)
    )
    return Case(
        When(consent_state__in=CONSENT_PROBLEMS, then=Value(0)),
        When(sync_problem, then=Value(1)),
        When(consent_state=ConsentState.OFFBOARDED, then=Value(3)),
        default=Value(2),
        output_field=IntegerField(),
    )


def _ordered(customers: QuerySet[Customer], cutoff: datetime, counts: dict[str, Any]) -> Any:
    """``customers`` with ``counts`` annotations, needing attention first, then by open High
    incidents (most first), name and pk."""
    return customers.annotate(attention=_attention(cutoff), **counts).order_by(
        "attention", f"-{_OPEN_COLUMNS[0]}", "name", "pk"
    )


class _Rows:
    """The overview's rows for Paginator: ``len`` is the known total; a slice reads those
    rows (one query: ``ordered_ids`` sliced, inside the query of their values)."""

    def __init__(
        self,
        *,
        total: int,
        ordered_ids: QuerySet[Customer, dict[str, Any]],
        values_of: Callable[[QuerySet[Customer, dict[str, Any]]], QuerySet[Any, tuple[Any, ...]]],
    ) -> None:
        self.total = total
        self.ordered_ids = ordered_ids
        self.values_of = values_of
        self.window = stale_after()

    def __len__(self) -> int:
        return self.total

    def __iter__(self) -> Iterator[OverviewRow]:
        return iter(self[0 : self.total])

    @overload
    def __getitem__(self, index: int) -> OverviewRow: ...
    @overload
    def __getitem__(self, index: slice) -> list[OverviewRow]: ...
    def __getitem__(self, index: int | slice) -> OverviewRow | list[OverviewRow]:
        if isinstance(index, int):
            return self[index : index + 1][0]
        return [self._row(values) for values in self.values_of(self.ordered_ids[index])]

    def _row(self, v: tuple[Any, ...]) -> OverviewRow:
        return OverviewRow(
            customer_id=v[0],
            name=v[1],
            primary_domain=v[2],
            consent_state=v[3],
            missing_roles=v[4] or [],
            last_error_code=v[5],
            last_error=v[6],
            last_outcome=v[7] or "",
            last_finished_at=v[8],
            last_success_at=v[9],
            sync_error=v[10] or "",
            open_counts=tuple(v[11:]),
            is_stale=is_stale(v[3], v[9], self.window),
        )


def tenant_overview(
    user: User, *, page: int | str | None = None, per_page: int | None = None
) -> TenantOverview:
    """Page ``page`` (1-based; invalid or out of range gives the first or last page) of the
    customers ``user`` sees, ``per_page`` (default OVERVIEW_PAGE_SIZE) at a time: consent
    problems first, then sync problems, then the rest (offboarded last), each by open High
    incidents (most first), then by name. 2 queries."""
    cutoff = timezone.now() - stale_after()
    customers = visible_customers(user)
    totals = customers.aggregate(total=Count("pk"), stale=Count("pk", filter=_stale(cutoff)))
    high_only = {_OPEN_COLUMNS[0]: _open_count(SEVERITY_RANK[SEVERITIES_DESC[0]])}
    every_severity = {
        column: _open_count(SEVERITY_RANK[name])
        for column, name in zip(_OPEN_COLUMNS, SEVERITIES_DESC, strict=True)
    }

    def values_of(ids: QuerySet[Customer, dict[str, Any]]) -> QuerySet[Any, tuple[Any, ...]]:
        return _ordered(customers.filter(pk__in=ids), cutoff, every_severity).values_list(
            *_COLUMNS, *_OPEN_COLUMNS
        )

    rows = _Rows(
        total=totals["total"],
        ordered_ids=_ordered(customers, cutoff, high_only).values("pk"),
        values_of=values_of,
    )
    current = Paginator(rows, per_page or OVERVIEW_PAGE_SIZE).get_page(page)
    return TenantOverview(
        page=current,
        rows=list(current.object_list),
        total=totals["total"],
        stale_count=totals["stale"],
    )
