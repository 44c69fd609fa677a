"""Django admin for customers (scoped through ``tenants.scoping``) and the audit trail
(read-only).

Customers are managed on the portal's own pages (audited, with the naming rule): here every
customer field is read-only except the assigned users, which are saved through
``tenants.services.set_assigned_users`` (audited). Consent fields change only through the
onboarding services.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.auth.models import User
from django.db.models import QuerySet
from django.forms import ModelForm
from django.http import HttpRequest

from tenants import services
from tenants.models import AuditEvent, Customer
from tenants.scoping import scope_to_user


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    """Customers, scoped to the user's customers. Read-only but for ``assigned_users`` (the
    only place analysts are assigned); no add (the Customers page creates customers with an
    onboarding link), no delete (offboard instead)."""

    list_display = ("name", "consent_state", "tenant_id", "last_confirmed_at", "last_error_code")
    list_filter = ("consent_state",)
    search_fields = ("name", "primary_domain", "tenant_id")
    filter_horizontal = ("assigned_users",)
    readonly_fields = (
        # Edited on the customer page (tenants.services.update_customer: audited, name rule).
        "name",
        "primary_domain",
        "contacts",
        "notes",
        # Written only by onboarding and sync.
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

    def save_model(
        self, request: HttpRequest, obj: Customer, form: ModelForm, change: bool
    ) -> None:
        """Save nothing on the customer row: every field of it is read-only here, and saving
        the instance would write back every field as this request loaded it, undoing a consent
        change the sync or onboarding made meanwhile."""

    def save_related(
        self, request: HttpRequest, form: ModelForm, formsets: Any, change: bool
    ) -> None:
        """Save the assigned users through ``tenants.services.set_assigned_users`` (audited)."""
        services.set_assigned_users(
            customer=form.instance,
            users=form.cleaned_data["assigned_users"],
            actor=request.user if isinstance(request.user, User) else None,
            actor_label="Django admin",
        )
        for formset in formsets:
            self.save_formset(request, form, formset, change=change)


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """The onboarding audit trail, read-only, scoped to the user's customers."""

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
