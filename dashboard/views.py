"""Dashboard views: validate input, call dashboard.selectors, render. No business rules here.

Every view requires a signed-in user with ``incidents.view_incident``; what they see is scoped
by ``tenants.scoping`` inside the selectors. htmx partial requests from a session that expired
get an ``HX-Redirect`` to the login page instead of a login form swapped into the table.
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable, Collection
from datetime import datetime
from functools import wraps
from typing import Any, cast

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    JsonResponse,
    StreamingHttpResponse,
)
from django.http.response import HttpResponseBase
from django.shortcuts import render, resolve_url
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe
from django.views.decorators.http import require_GET

from dashboard import selectors
from dashboard.charts import build_chart
from dashboard.export import csv_lines
from dashboard.filters import (
    KNOWN_SERVICE_SOURCES,
    SORTS,
    IncidentFilters,
    parse_filters,
    requested_customer_ids,
)
from dashboard.pagination import Cursor, InvalidCursor, decode_cursor
from dashboard.presenters import (
    comment_items,
    defender_url,
    device_facts,
    entity_facts,
)
from dashboard.tenant_rows import tenant_rows
from incidents.models import Classification, IncidentStatus, Severity

VIEW_PERMISSION = "incidents.view_incident"
View = Callable[..., HttpResponseBase]


def incident_access(view: View) -> View:
    """Require sign-in (htmx-aware) and ``incidents.view_incident`` (else 403)."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not _user(request).is_authenticated:
            if request.headers.get("HX-Request"):
                response = HttpResponse(status=401)
                response["HX-Redirect"] = resolve_url(settings.LOGIN_URL)
                return response
            return redirect_to_login(request.get_full_path())
        if not _user(request).has_perm(VIEW_PERMISSION):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return wrapper


def _user(request: HttpRequest) -> selectors.User:
    """The signed-in user as the selectors type it (the auth middleware sets it)."""
    return cast("selectors.User", request.user)


def _parse_since(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo else None


def _list_state(
    request: HttpRequest, visible_customer_ids: Collection[int]
) -> tuple[IncidentFilters, Cursor | None, list[str]]:
    """Filters, cursor and messages about ignored input. ``visible_customer_ids``: the visible
    customers, all of them or those among the requested ones (see ``parse_filters``)."""
    filters = parse_filters(request.GET, visible_customer_ids=visible_customer_ids)
    notes = list(filters.ignored)
    cursor = None
    raw_cursor = request.GET.get("after", "")
    if raw_cursor:
        try:
            cursor = decode_cursor(raw_cursor, sort=filters.sort)
        except InvalidCursor:
            notes.append("The page link was not valid (changed or out of date); showing page 1.")
    return filters, cursor, notes


def _customer_scope(request: HttpRequest) -> selectors.CustomerScope:
    """The requested customers the user sees and, if needed, their visible customers' pks:
    for requests that do not show the customer selector (no names; at most 1 query)."""
    return selectors.customer_scope(_user(request), requested_customer_ids(request.GET))


def _table_context(
    request: HttpRequest,
    filters: IncidentFilters,
    cursor: Cursor | None,
    since: datetime,
    visible_ids: list[int] | None,
) -> dict[str, Any]:
    """Context of the auto-refreshed incident table (one page, keyset)."""
    page = selectors.incident_page(
        _user(request),
        filters,
        cursor=cursor,
        size=settings.DASHBOARD_PAGE_SIZE,
        visible_ids=visible_ids,
    )
    base_query = filters.querydict()
    next_url = None
    if page.next_cursor is not None:
        next_query = base_query.copy()
        next_query["after"] = page.next_cursor.encode()
        next_url = "?" + next_query.urlencode()
    live_query = base_query.copy()
    if cursor is not None:
        live_query["after"] = cursor.encode()
    live_query["since"] = since.isoformat()
    new_high = selectors.new_high_since(page.rows, since)
    rows = [
        {"incident": i, "defender_url": defender_url(i), "new_high": i.pk in new_high}
        for i in page.rows
    ]
    sort_links = {}
    for key in SORTS:
        query = filters.querydict(sort=key).urlencode()
        sort_links[key] = "?" + query if query else "?"
    return {
        "filters": filters,
        "rows": rows,
        "page": page,
        "next_url": next_url,
        "first_url": "?" + base_query.urlencode(),
        "live_query": live_query.urlencode(),
        "summary_query": base_query.urlencode(),
        "since": since,
        "new_high_count": len(new_high),
        "sort_links": sort_links,
        "refresh_seconds": settings.DASHBOARD_REFRESH_SECONDS,
        "export_query": base_query.urlencode(),
        "refreshed_at": timezone.now(),
    }


@require_GET
@incident_access
def incident_list(request: HttpRequest) -> HttpResponse:
    """The home page: filters and the first (or cursor's) page of incidents. The summary and
    chart load (and refresh) from ``incident_summary`` so the table never waits for them."""
    choices = selectors.customer_choices(_user(request))
    visible_ids = [pk for pk, _name in choices]
    filters, cursor, notes = _list_state(request, visible_ids)
    context = _table_context(request, filters, cursor, timezone.now(), visible_ids)
    context.update(
        {
            "nav": "incidents",
            "notes": notes,
            "customer_options": _customer_options(choices, filters.customer_ids),
            "severity_choices": Severity.choices,
            "status_choices": IncidentStatus.choices,
            "classification_choices": Classification.choices,
            "known_sources": KNOWN_SERVICE_SOURCES,
        }
    )
    return render(request, "dashboard/incident_list.html", context)


def _customer_options(choices: list[tuple[int, str]], selected: tuple[int, ...]) -> SafeString:
    """``<option>`` elements of the customer filter (up to thousands: built as escaped
    f-strings, not a template loop, to keep the page fast)."""
    chosen = set(selected)
    return mark_safe(  # noqa: S308 - every value is escaped
        "".join(
            f'<option value="{pk}"{" selected" if pk in chosen else ""}>'
            f"{html.escape(name, quote=True)}</option>"
            for pk, name in choices
        )
    )


@require_GET
@incident_access
def incident_list_live(request: HttpRequest) -> HttpResponse:
    """The table's auto-refresh partial (htmx): the same page for the same filters, marking
    High incidents first stored after ``since`` (the time the page was loaded). Runs every
    DASHBOARD_REFRESH_SECONDS per open page, so it reads no customer names: at most 1 query
    for the customer scope (``selectors.customer_scope``), then the page."""
    scope = _customer_scope(request)
    filters, cursor, _notes = _list_state(request, scope.allowed)
    since = _parse_since(request.GET.get("since")) or timezone.now()
    return render(
        request,
        "dashboard/_results.html",
        _table_context(request, filters, cursor, since, scope.visible_ids),
    )


@require_GET
@incident_access
def incident_summary(request: HttpRequest) -> HttpResponse:
    """The summary partial (htmx, loaded and refreshed by the list page): open incidents by
    severity, customers with open high/medium incidents and their freshness, and the chart of
    incidents created per day by severity for the same filters. Refreshed like the table, so
    it only checks the requested customers (no query when none are requested)."""
    allowed = selectors.visible_customer_ids(
        _user(request), among=requested_customer_ids(request.GET)
    )
    filters = parse_filters(request.GET, visible_customer_ids=allowed)
    chart_days = selectors.created_per_day(_user(request), filters)
    return render(
        request,
        "dashboard/_summary.html",
        {
            "filters": filters,
            "summary": selectors.summary(_user(request), filters),
            "chart": build_chart(chart_days),
            "summary_query": filters.querydict().urlencode(),
            "refresh_seconds": settings.DASHBOARD_REFRESH_SECONDS,
            "loaded": True,
        },
    )


@require_GET
@incident_access
def incident_export(request: HttpRequest) -> StreamingHttpResponse:
    """CSV of the current filtered view in list order, at most DASHBOARD_EXPORT_MAX_ROWS rows
    and then a note, only if rows were left out. Reads no customer names (``customer_scope``)."""
    scope = _customer_scope(request)
    filters = parse_filters(request.GET, visible_customer_ids=scope.allowed)
    limit = settings.DASHBOARD_EXPORT_MAX_ROWS
    # One row past the cap tells csv_lines whether the export was cut.
    rows = selectors.export_rows(
        _user(request), filters, limit=limit + 1, visible_ids=scope.visible_ids
    )
    response = StreamingHttpResponse(
        csv_lines(rows, limit=limit), content_type="text/csv; charset=utf-8"
    )
    stamp = timezone.now().strftime("%Y%m%d-%H%M")
    response["Content-Disposition"] = f'attachment; filename="incidents-{stamp}.csv"'
    response["Cache-Control"] = "no-store"
    return response


@require_GET
@incident_access
def incident_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """One incident with its alerts, devices and entities; 404 if not visible to the user."""
    incident = selectors.incident_detail(_user(request), pk)
    if incident is None:
        raise Http404("No such incident.")
    alerts = [
        {
            "alert": alert,
            "devices": [device_facts(d) for d in alert.devices if isinstance(d, dict)],
            "entities": [entity_facts(e) for e in alert.entities if isinstance(e, dict)],
        }
        for alert in incident.alerts.all()
    ]
    return render(
        request,
        "dashboard/incident_detail.html",
        {
            "nav": "incidents",
            "incident": incident,
            "alerts": alerts,
            "comments": comment_items(incident.comments),
            "defender_url": defender_url(incident),
            "merge_target": incident.merge_target,  # type: ignore[attr-defined]
        },
    )


@require_GET
@incident_access
def incident_raw(request: HttpRequest, pk: int) -> HttpResponse:
    """The stored payload (incident and alerts as Microsoft sent them) as pretty JSON, or, for
    htmx, as a ``<pre>`` fragment for the detail page's "Raw payload" disclosure."""
    payload = selectors.incident_raw(_user(request), pk)
    if payload is None:
        raise Http404("No such incident.")
    if request.headers.get("HX-Request"):
        return render(
            request,
            "dashboard/_raw.html",
            {"raw": json.dumps(payload, indent=2, ensure_ascii=False, sort_keys=False)},
        )
    response = JsonResponse(payload, json_dumps_params={"indent": 2, "ensure_ascii": False})
    response["Content-Disposition"] = f'inline; filename="incident-{pk}.json"'
    return response


@require_GET
@incident_access
def tenant_overview(request: HttpRequest) -> HttpResponse:
    """The visible customers, a page at a time (``?page=``), those needing attention first:
    consent state, open incidents by severity, sync outcome, freshness and errors in plain
    words. Rows are built from plain values as escaped f-strings (dashboard.tenant_rows)."""
    overview = selectors.tenant_overview(_user(request), page=request.GET.get("page"))
    return render(
        request,
        "dashboard/tenant_overview.html",
        {
            "nav": "tenants",
            "overview": overview,
            "page": overview.page,
            "rows": tenant_rows(overview.rows, list_url=reverse("dashboard:incidents")),
            "severity_columns": selectors.SEVERITIES_DESC,
            "stale_minutes": settings.DASHBOARD_STALE_AFTER_MINUTES,
        },
    )
