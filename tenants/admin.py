"""Django admin for customers (scoped through ``tenants.scoping``) and the audit trail
(read-only). Consent fields are read-only here: they change only through onboarding services."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from tenants.models import AuditEvent, Customer
from tenants.scoping import scope_to_user


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    list_display = ("name", "consent_state", "tenant_id", "last_confirmed_at", "last_error_code")
    list_filter = ("consent_state",)
    search_fields = ("name", "primary_domain", "tenant_id")
    filter_horizontal = ("assigned_users",)
    readonly_fields = (
        "tenant_id",
        "consent_state",
        "granted_roles",
        "missing_roles",
        "consent_given_at",
        "last_confirmed_at",
        "last_checked_at",
        "last_error_code",
        "last_error",
        "created_by",
        "created_at",
        "updated_at",
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[Customer]:
        return scope_to_user(super().get_queryset(request), request.user, customer_field="")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # customers are added on the Customers page (audited, with a link)

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False  # offboard instead (audited)


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = ("created_at", "action", "customer_name", "actor", "actor_label")
    list_filter = ("action",)
    search_fields = ("customer_name", "message")
    date_hierarchy = "created_at"

    def get_queryset(self, request: HttpRequest) -> QuerySet[AuditEvent]:
        return scope_to_user(super().get_queryset(request), request.user)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False
