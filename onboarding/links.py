"""Onboarding links: issue (revoking the previous one), show, and resolve from a URL token.

The URL token is ``<key>.<signature>``: ``key`` is 192 random bits stored on the link and the
signature is Django's HMAC-SHA256 signer (salted, SECRET_KEY) over it, so the token is
unguessable, a database copy alone cannot forge one, and an administrator can see the link
again. Links expire after settings.ONBOARDING_LINK_TTL (default 7 days).
"""

from __future__ import annotations

import logging
import secrets

from django.conf import settings
from django.contrib.auth.models import User
from django.core import signing
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from onboarding.models import OnboardingLink
from tenants.consent import record_audit
from tenants.models import AuditAction, Customer

logger = logging.getLogger(__name__)

_SIGNER_SALT = "onboarding.link"
_SEP = "."


class LinkInvalid(Exception):
    """The token names no usable link. ``reason``: "unknown", "expired" or "revoked";
    ``link`` is set when the token was genuine (expired or revoked)."""

    def __init__(self, reason: str, link: OnboardingLink | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.link = link


def _signer() -> signing.Signer:
    return signing.Signer(salt=_SIGNER_SALT, sep=_SEP)


def link_token(link: OnboardingLink) -> str:
    """The URL token of ``link``: ``<key>.<signature>`` (URL-safe characters only)."""
    return _signer().sign(link.key)


def link_url(link: OnboardingLink) -> str:
    """Absolute onboarding URL, built from settings.PORTAL_URL (never from a request's Host)."""
    path = reverse("onboarding:start", kwargs={"token": link_token(link)})
    return f"{settings.PORTAL_URL}{path}"


def active_link(customer: Customer) -> OnboardingLink | None:
    """The customer's newest link that is neither revoked nor expired, or None (one query)."""
    return (
        OnboardingLink.objects.filter(
            customer=customer, revoked_at__isnull=True, expires_at__gt=timezone.now()
        )
        .order_by("-created_at", "-id")
        .first()
    )


def issue_link(
    *,
    customer: Customer,
    actor: User | None = None,
    actor_label: str = "",
) -> OnboardingLink:
    """Create a new onboarding link for ``customer``, revoking its active ones; audit
    LINK_CREATED. Returns the link; its URL is ``link_url(link)``."""
    now = timezone.now()
    with transaction.atomic():
        revoked = OnboardingLink.objects.filter(customer=customer, revoked_at__isnull=True).update(
            revoked_at=now
        )
        link = OnboardingLink.objects.create(
            customer=customer,
            key=secrets.token_urlsafe(24),
            created_by=actor if actor is not None and actor.is_authenticated else None,
            expires_at=now + settings.ONBOARDING_LINK_TTL,
        )
        record_audit(
            customer=customer,
            action=AuditAction.LINK_CREATED,
            actor=actor,
            actor_label=actor_label,
            message="Onboarding link created"
            + (f"; {revoked} previous link(s) revoked." if revoked else "."),
            detail={"link_id": link.pk, "expires_at": link.expires_at.isoformat()},
        )
    return link


def resolve_link(token: str) -> OnboardingLink:
    """The active link a URL token names (with its customer loaded).

    Raises LinkInvalid("unknown") for a token that is malformed, badly signed or names no link,
    LinkInvalid("revoked"/"expired", link) for a genuine but unusable one.
    """
    try:
        key = _signer().unsign(token)
    except signing.BadSignature:
        raise LinkInvalid("unknown") from None
    link = OnboardingLink.objects.select_related("customer").filter(key=key).first()
    if link is None:
        raise LinkInvalid("unknown")
    if link.revoked_at is not None:
        raise LinkInvalid("revoked", link)
    if link.is_expired:
        raise LinkInvalid("expired", link)
    return link


def reject_link(*, reason: str, link: OnboardingLink | None) -> None:
    """Record that an unusable onboarding link was presented (the token is never recorded).

    A genuine link (expired or revoked, ``link`` set) is audited LINK_REJECTED on its customer.
    A token that names no link (``link`` None: anyone on the internet can send one) names no
    customer, so it only logs one INFO line: an audit row per anonymous request would let
    anyone fill the audit table.
    """
    if link is None:
        logger.info("onboarding link refused: reason=%s (names no link; not audited)", reason)
        return
    record_audit(
        customer=link.customer,
        action=AuditAction.LINK_REJECTED,
        actor_label="customer administrator",
        message=f"Onboarding link refused: {reason}.",
        detail={"reason": reason, "link_id": link.pk},
    )


def mark_opened(link: OnboardingLink) -> None:
    """Note that the customer administrator opened ``link`` now."""
    OnboardingLink.objects.filter(pk=link.pk).update(last_opened_at=timezone.now())
