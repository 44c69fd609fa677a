"""Customers, their Entra ID tenant and consent state, and the onboarding audit trail."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models.functions import Lower


class ConsentState(models.TextChoices):
    """Where a customer's admin consent stands (contract §2.4, §11.1)."""

    PENDING = "pending", "Pending consent"
    CONNECTED = "connected", "Connected"
    MISSING_PERMISSIONS = "missing_permissions", "Missing permissions"
    CONSENT_REVOKED = "consent_revoked", "Consent revoked"
    ERROR = "error", "Error"
    OFFBOARDED = "offboarded", "Offboarded"


class Customer(models.Model):
    """An MSSP customer and its Microsoft 365 (Entra ID) tenant.

    ``tenant_id`` is set only from a confirmed source (a client-credential token whose ``tid``
    matched); it is unique, so one tenant cannot be connected to two customers. Only customers in
    ``ConsentState.CONNECTED`` are synced. ``name`` is unique ignoring case (database
    constraint ``customer_name_ci_unique``); write it through ``tenants.services``, which
    normalises whitespace first.
    """

    name = models.CharField(max_length=200, unique=True)
    primary_domain = models.CharField(max_length=253, blank=True)
    contacts = models.TextField(blank=True, help_text="Names, e-mail addresses, phone numbers.")
    notes = models.TextField(blank=True)
    tenant_id = models.UUIDField(null=True, blank=True, unique=True, verbose_name="tenant ID")
    consent_state = models.CharField(
        max_length=32, choices=ConsentState.choices, default=ConsentState.PENDING, db_index=True
    )
    # App roles found in the last confirmed token's ``roles`` claim, e.g. ["Incident.Read.All"].
    granted_roles = models.JSONField(default=list, blank=True)
    # Roles in settings.REQUIRED_APP_ROLES that the last token lacked.
    missing_roles = models.JSONField(default=list, blank=True)
    consent_given_at = models.DateTimeField(null=True, blank=True)
    last_confirmed_at = models.DateTimeField(null=True, blank=True)
    last_checked_at = models.DateTimeField(null=True, blank=True)
    # e.g. "AADSTS7000229" or "HTTP 403"; empty when the last check succeeded.
    last_error_code = models.CharField(max_length=40, blank=True)
    # The last error in plain words, for the tenant page.
    last_error = models.TextField(blank=True)
    assigned_users = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        blank=True,
        related_name="assigned_customers",
        help_text="Analysts who see this customer's incidents.",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            # Names are unique ignoring case ("contoso" next to "Contoso" is refused);
            # tenants.services.clean_customer_name checks the same rule with a clear message.
            models.UniqueConstraint(
                Lower("name"),
                name="customer_name_ci_unique",
                violation_error_message="A customer with this name already exists.",
            ),
        ]
        permissions = [
            ("manage_onboarding", "Can onboard, re-check and offboard customers"),
            ("view_all_customers", "Can see every customer's data"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_connected(self) -> bool:
        """True when the tenant is confirmed and may be synced."""
        return self.consent_state == ConsentState.CONNECTED and self.tenant_id is not None


class AuditAction(models.TextChoices):
    """Onboarding events recorded in the audit trail."""

    CUSTOMER_CREATED = "customer_created", "Customer created"
    CUSTOMER_UPDATED = "customer_updated", "Customer updated"
    LINK_CREATED = "link_created", "Onboarding link created"
    LINK_REJECTED = "link_rejected", "Onboarding link rejected"
    CONSENT_STARTED = "consent_started", "Consent started"
    CONSENT_RETURNED = "consent_returned", "Consent returned"
    CONSENT_DECLINED = "consent_declined", "Consent declined"
    CALLBACK_REJECTED = "callback_rejected", "Consent callback rejected"
    TENANT_LINKED = "tenant_linked", "Tenant linked manually"
    CONFIRMED = "confirmed", "Consent confirmed"
    CONFIRMATION_FAILED = "confirmation_failed", "Confirmation failed"
    PERMISSIONS_MISSING = "permissions_missing", "Permissions missing"
    CONSENT_REVOKED = "consent_revoked", "Consent revoked"
    OFFBOARDED = "offboarded", "Offboarded"


class AuditEvent(models.Model):
    """One onboarding event: what happened to which customer, caused by whom, when.

    ``actor`` is the portal user when there is one; ``actor_label`` names the cause otherwise
    ("customer administrator", "sync worker", "command line"). ``detail`` holds the event's
    facts (tenant ID, AADSTS code, roles), never a token or secret.
    """

    customer = models.ForeignKey(
        Customer, null=True, blank=True, on_delete=models.SET_NULL, related_name="audit_events"
    )
    customer_name = models.CharField(max_length=200, blank=True)
    action = models.CharField(max_length=40, choices=AuditAction.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_label = models.CharField(max_length=100, blank=True)
    message = models.TextField(blank=True)
    detail = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["customer", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.get_action_display()} {self.customer_name}"
