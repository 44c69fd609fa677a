"""Admin pages for sync state and history (read-only; scoped to the user's customers)."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from sync.models import SyncRun, TenantSyncState
from tenants.scoping import scope_to_user


class _ReadOnlyScopedAdmin(admin.ModelAdmin):
    """Read-only admin scoped to the user's customers (``tenants.scoping.scope_to_user``): no
    add, change or delete. Deleting a TenantSyncState would reset the tenant's watermark (a full
    backfill) and deleting SyncRuns would erase sync history; both only change through the sync
    service and offboarding."""

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return scope_to_user(super().get_queryset(request), request.user)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(TenantSyncState)
class TenantSyncStateAdmin(_ReadOnlyScopedAdmin):
    """Each tenant's sync state (watermark, next sync, throttling), read-only."""

    list_display = (
        "customer",
        "last_outcome",
        "last_success_at",
        "watermark",
        "next_sync_at",
        "throttled_until",
    )
    list_select_related = ("customer",)
    list_filter = ("last_outcome",)
    search_fields = ("customer__name",)


@admin.register(SyncRun)
class SyncRunAdmin(_ReadOnlyScopedAdmin):
    """Sync history with each run's figures, read-only."""

    list_display = (
        "customer",
        "trigger",
        "started_at",
        "finished_at",
        "outcome",
        "pages",
        "incidents_created",
        "incidents_updated",
        "api_calls",
        "throttled_waits",
        "error_code",
    )
    list_select_related = ("customer",)
    list_filter = ("outcome", "trigger")
    search_fields = ("customer__name", "error_code")
    date_hierarchy = "started_at"
