"""Consent-state transitions of a customer, shared by onboarding (confirmation) and sync
(token and API failures). Every transition writes an audit event.

Contract §2.4 and §11.1: AADSTS7000229 → consent revoked (or never given); a token without the
required roles, or a 403 from the API → missing permissions; the portal's own credentials
rejected → error (the MSSP must fix its app registration); confirmed token + probe → connected.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from microsoft import errors
from tenants.models import AuditAction, AuditEvent, ConsentState, Customer


def record_audit(
    *,
    customer: Customer | None,
    action: str,
    actor: User | None = None,
    actor_label: str = "",
    message: str = "",
    detail: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one event to the onboarding audit trail and return it."""
    return AuditEvent.objects.create(
        customer=customer,
        customer_name=customer.name if customer else "",
        action=action,
        actor=actor if actor is not None and actor.is_authenticated else None,
        actor_label=actor_label,
        message=message,
        detail=detail or {},
    )


def mark_connected(
    *,
    customer: Customer,
    granted_roles: list[str],
    actor: User | None = None,
    actor_label: str = "",
) -> Customer:
    """Mark ``customer`` connected after a confirmed token and API probe; audit CONFIRMED."""
    now = timezone.now()
    with transaction.atomic():
        customer.consent_state = ConsentState.CONNECTED
        customer.granted_roles = sorted(granted_roles)
        customer.missing_roles = []
        customer.last_confirmed_at = now
        customer.last_checked_at = now
        customer.consent_given_at = customer.consent_given_at or now
        customer.last_error_code = ""
        customer.last_error = ""
        customer.save()
        record_audit(
            customer=customer,
            action=AuditAction.CONFIRMED,
            actor=actor,
            actor_label=actor_label,
            message="Consent confirmed: token and Defender API access work.",
            detail={"tenant_id": str(customer.tenant_id), "roles": customer.granted_roles},
        )
    return customer


def state_for_error(exc: errors.MicrosoftError) -> str:
    """The consent state a failure puts the customer in (see module docstring)."""
    if isinstance(exc, errors.ConsentMissingError):
        return ConsentState.CONSENT_REVOKED
    if isinstance(exc, errors.MissingRolesError):
        return ConsentState.MISSING_PERMISSIONS
    return ConsentState.ERROR


def record_failure(
    *,
    customer: Customer,
    exc: errors.MicrosoftError,
    actor: User | None = None,
    actor_label: str = "",
    granted_roles: list[str] | None = None,
    tenant_id: str | None = None,
) -> Customer:
    """Record a confirmation or token/API failure on ``customer`` and audit it.

    ``tenant_id`` names the tenant that was tried when the customer has none confirmed yet
    (onboarding); it only goes into the audit detail.

    Transient errors (network, 5xx, throttling) do not change the consent state: only the last
    error is noted. Any other failure moves the customer out of CONNECTED, which stops its sync
    until a re-check succeeds. A customer that was never connected stays PENDING for consent
    problems (consent not given yet) but records the error.
    """
    now = timezone.now()
    transient = isinstance(exc, (errors.TransientError, errors.ThrottledError))
    with transaction.atomic():
        customer = Customer.objects.select_for_update().get(pk=customer.pk)
        previous = customer.consent_state
        customer.last_checked_at = now
        customer.last_error_code = exc.code
        customer.last_error = exc.message
        if isinstance(exc, errors.MissingRolesError):
            customer.missing_roles = sorted(exc.missing)
            if granted_roles is not None:
                customer.granted_roles = sorted(granted_roles)
        if not transient and previous != ConsentState.OFFBOARDED:
            new_state = state_for_error(exc)
            if previous == ConsentState.PENDING and new_state == ConsentState.CONSENT_REVOKED:
                new_state = ConsentState.PENDING
            customer.consent_state = new_state
        customer.save()
        if isinstance(exc, errors.ConsentMissingError) and previous == ConsentState.CONNECTED:
            action = AuditAction.CONSENT_REVOKED
        elif isinstance(exc, errors.MissingRolesError):
            action = AuditAction.PERMISSIONS_MISSING
        else:
            action = AuditAction.CONFIRMATION_FAILED
        if not transient or previous != ConsentState.CONNECTED:
            record_audit(
                customer=customer,
                action=action,
                actor=actor,
                actor_label=actor_label,
                message=exc.message,
                detail={
                    "code": exc.code,
                    "tenant_id": str(customer.tenant_id) if customer.tenant_id else tenant_id,
                    "previous_state": previous,
                    "state": customer.consent_state,
                },
            )
    return customer


def missing_roles(granted: list[str]) -> list[str]:
    """Required app roles (settings.REQUIRED_APP_ROLES) absent from ``granted``.

    ``Incident.ReadWrite.All`` satisfies ``Incident.Read.All`` (contract §5.1 permissions).
    """
    have = set(granted)
    if "Incident.ReadWrite.All" in have:
        have.add("Incident.Read.All")
    return [role for role in settings.REQUIRED_APP_ROLES if role not in have]
