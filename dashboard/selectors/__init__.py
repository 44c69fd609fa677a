"""Reads behind the dashboard. Every function takes the signed-in ``user`` and scopes through
``tenants.scoping``; none of them can return another customer's data.

Modules: ``filtering`` (scope, filters, customer choices), ``listing`` (incident list pages
and export), ``detail`` (one incident), ``summaries`` (summary panel and chart),
``overview`` (tenant overview). Everything public is importable from here.

Query budget (whatever the data size): ``customer_choices`` 1, ``visible_customer_ids`` 1 (0
for an empty ``among``), ``customer_scope`` at most 1, ``incident_page`` 1,
``open_counts`` 1, ``customers_with_sync_state`` 1, ``summary`` 2, ``created_per_day`` 1,
``incident_detail`` 2 (+1 for a merge target), ``incident_raw`` 2, ``tenant_overview`` 2,
``export_rows`` 1 per ``chunk`` rows.
"""

from dashboard.selectors.detail import incident_detail, incident_raw
from dashboard.selectors.filtering import (
    OPEN_STATUSES,
    RANK_TO_SEVERITY,
    SEVERITIES_DESC,
    CustomerScope,
    User,
    customer_choices,
    customer_scope,
    filter_incidents,
    scoped_incidents,
    visible_customer_ids,
)
from dashboard.selectors.listing import (
    LIST_FIELDS,
    PER_CUSTOMER_MERGE_MAX,
    IncidentPage,
    export_rows,
    incident_page,
    new_high_since,
)
from dashboard.selectors.overview import (
    OVERVIEW_PAGE_SIZE,
    OverviewRow,
    TenantOverview,
    tenant_overview,
)
from dashboard.selectors.summaries import (
    CustomerOpen,
    DayCounts,
    Freshness,
    Summary,
    SummaryRow,
    chart_range,
    created_per_day,
    customers_with_sync_state,
    is_stale,
    open_counts,
    stale_after,
    summary,
)

__all__ = [
    "LIST_FIELDS",
    "OPEN_STATUSES",
    "OVERVIEW_PAGE_SIZE",
    "PER_CUSTOMER_MERGE_MAX",
    "RANK_TO_SEVERITY",
    "SEVERITIES_DESC",
    "CustomerOpen",
    "CustomerScope",
    "DayCounts",
    "Freshness",
    "IncidentPage",
    "OverviewRow",
    "Summary",
    "SummaryRow",
    "TenantOverview",
    "User",
    "chart_range",
    "created_per_day",
    "customer_choices",
    "customer_scope",
    "customers_with_sync_state",
    "export_rows",
    "filter_incidents",
    "incident_detail",
    "incident_page",
    "incident_raw",
    "is_stale",
    "new_high_since",
    "open_counts",
    "scoped_incidents",
    "stale_after",
    "summary",
    "tenant_overview",
    "visible_customer_ids",
]
