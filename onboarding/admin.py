"""Django admin: onboarding links, consent requests and pending tenants, read-only (they are
written only by the onboarding services), scoped through ``tenants.scoping``."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import Model, QuerySet
from django.http import HttpRequest

from onboarding.models import ConsentRequest, OnboardingLink, PendingTenant
from tenants.scoping import scope_to_user


class _ReadOnly(admin.ModelAdmin):
    """Read-only admin scoped to the user's customers (``tenants.scoping.scope_to_user``)."""

    def get_queryset(self, request: HttpRequest) -> QuerySet[Model]:
        return scope_to_user(super().get_queryset(request).select_related("customer"), request.user)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(OnboardingLink)
class OnboardingLinkAdmin(_ReadOnly):
    """Onboarding links, read-only; the key is hidden (with SECRET_KEY it forms the URL)."""

    list_display = ("customer", "created_at", "expires_at", "revoked_at", "last_opened_at")
    exclude = ("key",)


@admin.register(ConsentRequest)
class ConsentRequestAdmin(_ReadOnly):
    """OAuth consent states (contract §2.4), read-only; the state and session hashes hidden."""

    list_display = ("customer", "created_at", "expires_at", "consumed_at", "outcome")
    exclude = ("state_hash", "session_hash")


@admin.register(PendingTenant)
class PendingTenantAdmin(_ReadOnly):
    """Tenant IDs received but not confirmed yet, read-only."""

    list_display = ("customer", "tenant_id", "source", "entered_as", "updated_at")
