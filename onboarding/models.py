"""Onboarding links, OAuth consent states and unconfirmed tenant IDs (contract §2.4).

- ``OnboardingLink``: the link an MSSP administrator sends to a customer's administrator. Its URL
  token is ``<key>.<HMAC signature>`` (``onboarding.links``): the database holds only ``key``, so
  a database leak alone yields no working link, yet administrators can see the link again.
- ``ConsentRequest``: one OAuth ``state``, minted when the customer administrator presses the
  consent button. Only its SHA-256 hash is stored, with the hash of the browser-session nonce it
  is bound to; it expires after settings.CONSENT_STATE_TTL and is consumed on first use.
- ``PendingTenant``: a tenant ID the portal received (callback, manual entry, command line) but
  has not confirmed yet, so a re-check can retry it. ``Customer.tenant_id`` is only ever set from
  a confirmed tenant.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from tenants.models import Customer


class OnboardingLink(models.Model):
    """An onboarding link for one customer; valid until ``expires_at`` unless revoked.

    Issuing a new link revokes the customer's previous ones (``onboarding.links.issue_link``).
    """

    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, related_name="onboarding_links"
    )
    # Random URL-safe key (192 bits); the URL token adds an HMAC of it (onboarding.links).
    key = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    # Last time the customer administrator opened the link (for the tenant page).
    last_opened_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["customer", "-created_at"], name="onblink_customer_idx")]

    def __str__(self) -> str:
        return f"onboarding link of {self.customer_id} ({self.status})"

    @property
    def is_expired(self) -> bool:
        """True once ``expires_at`` has passed (settings.ONBOARDING_LINK_TTL after issue)."""
        return self.expires_at <= timezone.now()

    @property
    def is_active(self) -> bool:
        """Neither revoked nor expired."""
        return self.revoked_at is None and not self.is_expired

    @property
    def status(self) -> str:
        """ "active", "expired" or "revoked"."""
        if self.revoked_at is not None:
            return "revoked"
        return "expired" if self.is_expired else "active"


class ConsentRequest(models.Model):
    """One OAuth ``state`` for the v2 admin-consent redirect (contract §2.3, §2.4).

    ``state_hash`` and ``session_hash`` are SHA-256 hex digests; the values themselves exist
    only in the browser (the URL and the session). ``consumed_at`` is set on the first callback
    that presents the state, whatever the result, so a state is accepted at most once.
    """

    link = models.ForeignKey(
        OnboardingLink, on_delete=models.CASCADE, related_name="consent_requests"
    )
    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, related_name="consent_requests"
    )
    state_hash = models.CharField(max_length=64, unique=True)
    session_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    consumed_at = models.DateTimeField(null=True, blank=True)
    # What the callback found: "accepted", "declined" or a rejection reason ("expired", ...).
    outcome = models.CharField(max_length=40, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"consent request of {self.customer_id} at {self.created_at:%Y-%m-%d %H:%M}"


class PendingTenant(models.Model):
    """The tenant ID last received for a customer and not confirmed yet (one per customer)."""

    class Source(models.TextChoices):
        CALLBACK = "callback", "Admin-consent callback"
        MANUAL = "manual", "Entered by an MSSP administrator"
        COMMAND = "command", "Command line"

    customer = models.OneToOneField(
        Customer, on_delete=models.CASCADE, related_name="pending_tenant"
    )
    tenant_id = models.UUIDField(verbose_name="tenant ID")
    source = models.CharField(max_length=20, choices=Source.choices)
    # What the administrator typed when it was a domain, e.g. "contoso.com".
    entered_as = models.CharField(max_length=253, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"pending tenant {self.tenant_id} of {self.customer_id}"
