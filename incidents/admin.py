"""Django admin for synced incidents and alerts: read-only, scoped, fast on large tables.

Incidents and alerts are written only by the sync, so the admin shows them read-only. Lists
stay fast at millions of rows: related rows are joined (``list_select_related``), the full
result count is not shown, the paginator's count is bounded by a statement timeout (falling
back to PostgreSQL's row estimate), list filters have fixed choices (no DISTINCT scan), and
search uses indexed columns only (incident ID, alert ID, and search_text through its trigram
index). Querysets go through ``tenants.scoping``.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.core.paginator import Paginator
from django.db import OperationalError, connection, transaction
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.functional import cached_property

from incidents.models import Alert, Classification, Incident, IncidentStatus, Severity
from tenants.scoping import scope_to_user

# Milliseconds the admin may spend counting a filtered list before it shows an estimate.
COUNT_TIMEOUT_MS = 200


class EstimatedCountPaginator(Paginator):
    """Paginator whose ``count`` never scans a big table for long.

    PostgreSQL: an exact COUNT under ``SET LOCAL statement_timeout``; if that times out, the
    planner's row estimate for the table (``pg_class.reltuples``). Other databases: exact.
    """

    @cached_property
    def count(self) -> int:  # type: ignore[override]
        queryset = self.object_list
        if connection.vendor != "postgresql" or not isinstance(queryset, QuerySet):
            return super().count
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(f"SET LOCAL statement_timeout = {COUNT_TIMEOUT_MS}")
                return queryset.count()
        except OperationalError:
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT reltuples::bigint FROM pg_class WHERE relname = %s",
                    [queryset.model._meta.db_table],
                )
                row = cursor.fetchone()
            return max(int(row[0]) if row else 0, 0)


class _ChoicesFilter(admin.SimpleListFilter):
    """A list filter with fixed choices (no SELECT DISTINCT over the table)."""

    field_name = ""
    options: list[tuple[str, str]] = []

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(str(v), str(label)) for v, label in self.options]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if self.value():
            return queryset.filter(**{self.field_name: self.value()})
        return queryset


class SeverityFilter(_ChoicesFilter):
    title = "severity"
    parameter_name = "severity"
    field_name = "severity"
    options = Severity.choices


class StatusFilter(_ChoicesFilter):
    title = "status"
    parameter_name = "status"
    field_name = "status"
    options = IncidentStatus.choices


class ClassificationFilter(_ChoicesFilter):
    title = "classification"
    parameter_name = "classification"
    field_name = "classification"
    options = Classification.choices


class ReadOnlyScopedAdmin(admin.ModelAdmin):
    """Read-only admin whose rows are limited to the customers the user may see.

    Viewing needs ``incidents.view_incident`` (MSSP administrators have it); nothing can be
    added, changed or deleted here: the sync owns these rows.
    """

    paginator = EstimatedCountPaginator
    show_full_result_count = False
    list_per_page = 50

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return scope_to_user(super().get_queryset(request), request.user)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.has_perm("incidents.view_incident")

    def has_module_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("incidents.view_incident")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Incident)
class IncidentAdmin(ReadOnlyScopedAdmin):
    list_display = (
        "incident_id",
        "name",
        "customer",
        "severity",
        "status",
        "assigned_to",
        "alert_count",
        "created_time",
        "last_update_time",
    )
    list_select_related = ("customer",)
    list_filter = (SeverityFilter, StatusFilter, ClassificationFilter)
    raw_id_fields = ("customer",)
    search_fields = ("incident_id",)
    search_help_text = "Incident ID, or words from names, alert titles, users, devices and IPs."
    ordering = ("-created_time", "-id")
    date_hierarchy = None

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet, search_term: str
    ) -> tuple[QuerySet, bool]:
        """Exact incident ID for digits; otherwise the lowercased term in ``search_text``
        (LIKE '%term%', served by the trigram index on PostgreSQL)."""
        term = search_term.strip()
        if not term:
            return queryset, False
        if term.isdigit() and len(term) < 19:
            return queryset.filter(incident_id=int(term)), False
        return queryset.filter(search_text__contains=term.lower()), False


@admin.register(Alert)
class AlertAdmin(ReadOnlyScopedAdmin):
    list_display = (
        "alert_id",
        "title",
        "customer",
        "incident",
        "severity",
        "status",
        "category",
        "service_source",
        "creation_time",
    )
    list_select_related = ("customer", "incident")
    list_filter = (SeverityFilter,)
    raw_id_fields = ("customer", "incident")
    search_fields = ("alert_id",)
    search_help_text = "Exact alert ID, or an incident ID."
    ordering = ("-id",)

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet, search_term: str
    ) -> tuple[QuerySet, bool]:
        """Exact alert ID (indexed), or the alerts of an incident ID when the term is digits."""
        term = search_term.strip()
        if not term:
            return queryset, False
        if term.isdigit() and len(term) < 19:
            return queryset.filter(incident__incident_id=int(term)), False
        return queryset.filter(alert_id=term), False
