"""The list's summary panel: open incidents by severity and customer, the customers with the
most open high/medium incidents with their sync freshness, and incidents created per day."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.conf import settings
from django.db.models import Count
from django.db.models.functions import TruncDate
from django.utils import timezone

from dashboard.filters import IncidentFilters
from dashboard.selectors.filtering import (
    OPEN_STATUSES,
    RANK_TO_SEVERITY,
    SEVERITIES_DESC,
    User,
    filter_incidents,
    scoped_incidents,
)
from incidents.models import SEVERITY_RANK
from sync.models import TenantSyncState
from tenants.models import ConsentState, Customer
from tenants.scoping import visible_customers


@dataclass
class CustomerOpen:
    """Open incident counts of one customer: ``by_rank`` maps severity_rank -> count."""

    customer_id: int
    by_rank: dict[int, int] = field(default_factory=dict)

    @property
    def high(self) -> int:
        """Open incidents of severity High (0 if none)."""
        return self.by_rank.get(SEVERITY_RANK["High"], 0)

    @property
    def medium(self) -> int:
        """Open incidents of severity Medium (0 if none)."""
        return self.by_rank.get(SEVERITY_RANK["Medium"], 0)

    @property
    def total(self) -> int:
        """Open incidents of every severity."""
        return sum(self.by_rank.values())


def open_counts(user: User, *, customer_ids: tuple[int, ...] = ()) -> dict[int, CustomerOpen]:
    """Open (Active, InProgress) incidents per visible customer and severity rank: one GROUP BY
    served by the partial index of open incidents. Customers with none are absent."""
    queryset = scoped_incidents(user).filter(status__in=OPEN_STATUSES)
    if customer_ids:
        queryset = queryset.filter(customer_id__in=customer_ids)
    result: dict[int, CustomerOpen] = {}
    rows = (
        queryset.order_by()
        .values_list("customer_id", "severity_rank")
        .annotate(n=Count("*"))
        .values_list("customer_id", "severity_rank", "n")
    )
    for customer_id, rank, n in rows:
        result.setdefault(customer_id, CustomerOpen(customer_id)).by_rank[rank] = n
    return result


def stale_after() -> timedelta:
    """Age past which a connected customer's data counts as stale (setting)."""
    return timedelta(minutes=settings.DASHBOARD_STALE_AFTER_MINUTES)


def is_stale(consent_state: str, last_success_at: datetime | None, window: timedelta) -> bool:
    """True for a connected customer not synced successfully within ``window``."""
    if consent_state != ConsentState.CONNECTED:
        return False
    return last_success_at is None or timezone.now() - last_success_at > window


@dataclass
class Freshness:
    """A customer's sync freshness for display."""

    customer: Customer
    state: TenantSyncState | None
    stale_after: timedelta

    @property
    def last_success_at(self) -> datetime | None:
        """When the customer's last successful sync finished (aware UTC), None if never."""
        return self.state.last_success_at if self.state else None

    @property
    def is_stale(self) -> bool:
        """True for a connected customer not synced successfully within ``stale_after``."""
        return is_stale(self.customer.consent_state, self.last_success_at, self.stale_after)


# Customer and sync-state columns the summary shows.
_CUSTOMER_FIELDS = (
    "id",
    "name",
    "primary_domain",
    "tenant_id",
    "consent_state",
    "missing_roles",
    "last_error_code",
    "last_error",
    "sync_state__id",
    "sync_state__customer",
    "sync_state__last_finished_at",
    "sync_state__last_success_at",
    "sync_state__last_outcome",
    "sync_state__last_error",
)


def customers_with_sync_state(user: User, ids: list[int] | None = None) -> list[Freshness]:
    """Visible customers (all, or those in ``ids``) by name, each with its sync state (1 query;
    the one-to-one sync state is LEFT JOINed)."""
    queryset = visible_customers(user)
    if ids is not None:
        queryset = queryset.filter(pk__in=ids)
    window = stale_after()
    return [
        Freshness(customer=c, state=getattr(c, "sync_state", None), stale_after=window)
        for c in queryset.select_related("sync_state").only(*_CUSTOMER_FIELDS).order_by("name")
    ]


@dataclass
class SummaryRow:
    """One customer line of the summary: open high/medium and freshness."""

    freshness: Freshness
    open: CustomerOpen


@dataclass
class Summary:
    """Open incidents by severity (``by_severity``: [(name, count)] most severe first) and
    the customers with the most open high/medium incidents (``customers``)."""

    by_severity: list[tuple[str, int]]
    total_open: int
    customers: list[SummaryRow]
    more_customers: int


def summary(user: User, filters: IncidentFilters, *, top: int = 5) -> Summary:
    """The list's summary, narrowed by the customer filter only (2 queries)."""
    per_customer = open_counts(user, customer_ids=filters.customer_ids)
    totals: dict[int, int] = defaultdict(int)
    for item in per_customer.values():
        for rank, n in item.by_rank.items():
            totals[rank] += n
    by_severity = [(name, totals.get(SEVERITY_RANK[name], 0)) for name in SEVERITIES_DESC]
    ranked = sorted(
        (c for c in per_customer.values() if c.high or c.medium),
        key=lambda c: (-c.high, -c.medium, c.customer_id),
    )
    chosen = ranked[:top]
    rows: list[SummaryRow] = []
    if chosen:
        by_id = {
            f.customer.pk: f
            for f in customers_with_sync_state(user, [c.customer_id for c in chosen])
        }
        rows = [
            SummaryRow(freshness=by_id[c.customer_id], open=c)
            for c in chosen
            if c.customer_id in by_id
        ]
    return Summary(
        by_severity=by_severity,
        total_open=sum(totals.values()),
        customers=rows,
        more_customers=max(0, len(ranked) - top),
    )


@dataclass
class DayCounts:
    """Incidents created on ``day``, per severity name."""

    day: date
    counts: dict[str, int]

    @property
    def total(self) -> int:
        """Incidents created on ``day``, every severity."""
        return sum(self.counts.values())


def chart_range(filters: IncidentFilters, *, today: date | None = None) -> tuple[date, date]:
    """Days the chart covers: the selected range, else the last DASHBOARD_CHART_DAYS days."""
    today = today or timezone.now().date()
    end = filters.end or today
    start = filters.start or end - timedelta(days=settings.DASHBOARD_CHART_DAYS - 1)
    return start, end


def created_per_day(user: User, filters: IncidentFilters) -> list[DayCounts]:
    """Incidents matching ``filters`` created on each day of ``chart_range`` by severity (one
    GROUP BY over the created_time index range). Days without incidents count 0."""
    start, end = chart_range(filters)
    lo, hi = IncidentFilters(start=start, end=end).date_range
    queryset = filter_incidents(
        scoped_incidents(user), filters, dates=filters.date_field != "created"
    )
    rows = (
        queryset.filter(created_time__gte=lo, created_time__lt=hi)
        .order_by()
        .annotate(day=TruncDate("created_time"))
        .values_list("day", "severity_rank")
        .annotate(n=Count("*"))
        .values_list("day", "severity_rank", "n")
    )
    counts: dict[date, dict[str, int]] = defaultdict(dict)
    for day, rank, n in rows:
        name = RANK_TO_SEVERITY.get(rank, "UnSpecified")
        counts[day][name] = counts[day].get(name, 0) + n
    days = []
    cursor = start
    while cursor <= end:
        days.append(DayCounts(day=cursor, counts=counts.get(cursor, {})))
        cursor += timedelta(days=1)
    return days
