"""Confirm a customer's tenant before activating it (contract §2.4 "Confirm before activating").

A tenant ID from the consent redirect, an administrator or the command line is only a claim.
``confirm_tenant`` proves it:

1. the value is a GUID (lowercased) and no other customer holds that tenant;
2. a client-credential token for authority ``…/<tenant>`` is issued (fresh MSAL app, so a
   cached token or MSAL's cached 400 cannot hide a change, §10.4); ``microsoft.entra`` checks
   ``tid`` and ``aud``; the ``roles`` claim must contain settings.REQUIRED_APP_ROLES;
3. ``GET /api/incidents?$top=1`` answers 200 (403 = consent without roles, §11.1).

Only then is ``Customer.tenant_id`` set and the customer marked connected. Until then the
tenant ID waits in ``PendingTenant`` so a re-check can retry it. Every outcome is audited.

Offboarding wins: a customer offboarded while its confirmation was running is not reconnected,
and ``recheck`` refuses an offboarded customer (it needs new consent through a new onboarding
link, or a manual link). Connecting drops the tenant's shared cached token after commit, so the
sync's next token carries the roles just confirmed.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime

from django.contrib.auth.models import User
from django.core.exceptions import ImproperlyConfigured
from django.db import IntegrityError, transaction

from microsoft import defender, entra, errors
from onboarding.models import PendingTenant
from tenants import consent
from tenants.models import AuditAction, ConsentState, Customer


class Outcome(enum.StrEnum):
    """How a confirmation ended."""

    CONNECTED = "connected"
    INVALID_TENANT = "invalid_tenant"  # not a GUID / domain did not resolve
    CONFLICT = "conflict"  # tenant held by another customer, or customer holds another tenant
    OFFBOARDED = "offboarded"  # the customer is (or was meanwhile) offboarded: nothing linked
    FAILED = "failed"  # token, roles or API probe failed (recorded on the customer)


@dataclass
class Confirmation:
    """The result of ``confirm_tenant``.

    ``code`` is short ("AADSTS7000229", "HTTP 403", "missing_roles", "tenant_in_use");
    ``message`` is plain words; ``error`` is the Microsoft error when there was one.
    """

    outcome: Outcome
    customer: Customer
    tenant_id: str | None
    message: str
    code: str = ""
    granted_roles: list[str] = field(default_factory=list)
    missing_roles: list[str] = field(default_factory=list)
    error: errors.MicrosoftError | None = None

    @property
    def ok(self) -> bool:
        """True when the tenant was confirmed and the customer is now connected."""
        return self.outcome == Outcome.CONNECTED


def _refuse(
    *,
    customer: Customer,
    tenant_id: str | None,
    outcome: Outcome,
    code: str,
    message: str,
    actor: User | None,
    actor_label: str,
    detail: dict[str, object] | None = None,
) -> Confirmation:
    consent.record_audit(
        customer=customer,
        action=AuditAction.CONFIRMATION_FAILED,
        actor=actor,
        actor_label=actor_label,
        message=message,
        detail={"code": code, "tenant_id": tenant_id, **(detail or {})},
    )
    return Confirmation(
        outcome=outcome, customer=customer, tenant_id=tenant_id, message=message, code=code
    )


def _conflict(customer: Customer, tenant_id: str) -> tuple[str, str, dict[str, object]] | None:
    """(code, message, detail) when ``tenant_id`` cannot belong to ``customer``, else None."""
    if customer.tenant_id is not None and str(customer.tenant_id) != tenant_id:
        return (
            "tenant_mismatch",
            f"This customer is already linked to tenant {customer.tenant_id}; the tenant "
            f"{tenant_id} was not linked. Offboard the customer (deleting its data) to change "
            "its tenant.",
            {"linked_tenant_id": str(customer.tenant_id)},
        )
    other = Customer.objects.filter(tenant_id=tenant_id).exclude(pk=customer.pk).first()
    if other is not None:
        return (
            "tenant_in_use",
            f"Tenant {tenant_id} is already linked to another customer ({other.name}); it was "
            "not linked to this one.",
            {"other_customer_id": other.pk},
        )
    return None


def _refuse_conflict(
    customer: Customer,
    tenant_id: str,
    conflict: tuple[str, str, dict[str, object]],
    *,
    actor: User | None,
    actor_label: str,
) -> Confirmation:
    """``_refuse`` with outcome CONFLICT for a ``_conflict`` result (code, message, detail)."""
    code, message, detail = conflict
    return _refuse(
        customer=customer,
        tenant_id=tenant_id,
        outcome=Outcome.CONFLICT,
        code=code,
        message=message,
        actor=actor,
        actor_label=actor_label,
        detail=detail,
    )


# Shown when a confirmation is refused because the customer is offboarded (code "offboarded").
OFFBOARDED_MESSAGE = (
    "This customer is offboarded; nothing was linked. Send it a new onboarding link (or link its "
    "tenant manually) to onboard it again."
)
RACE_OFFBOARDED_MESSAGE = (
    "This customer was offboarded while its tenant was being confirmed; nothing was linked. "
    "Send it a new onboarding link to onboard it again."
)


def _fail(
    *,
    customer: Customer,
    tenant_id: str,
    exc: errors.MicrosoftError,
    actor: User | None,
    actor_label: str,
    granted_roles: list[str] | None = None,
) -> Confirmation:
    customer = consent.record_failure(
        customer=customer,
        exc=exc,
        actor=actor,
        actor_label=actor_label,
        granted_roles=granted_roles,
        tenant_id=tenant_id,
    )
    return Confirmation(
        outcome=Outcome.FAILED,
        customer=customer,
        tenant_id=tenant_id,
        message=exc.message,
        code=exc.code,
        granted_roles=sorted(granted_roles or []),
        missing_roles=sorted(exc.missing) if isinstance(exc, errors.MissingRolesError) else [],
        error=exc,
    )


def confirm_tenant(
    *,
    customer: Customer,
    tenant_id: str,
    actor: User | None = None,
    actor_label: str,
    source: str = PendingTenant.Source.MANUAL,
    entered_as: str = "",
    consent_given_at: datetime | None = None,
) -> Confirmation:
    """Prove ``tenant_id`` works for ``customer`` and connect it (see module docstring).

    ``source`` (a PendingTenant.Source) and ``entered_as`` (the domain typed, if any) describe
    where the tenant ID came from; ``consent_given_at`` is the time of a consent redirect, if the
    confirmation follows one. Never raises for Microsoft errors: they are recorded on the customer
    (``tenants.consent.record_failure``) and returned in the Confirmation.

    An already offboarded ``customer`` may be confirmed (re-onboarding through a new link or the
    manual path). One that is offboarded *while* this runs (its state, read under a row lock
    before linking, is OFFBOARDED but was not when this started) is refused with
    Outcome.OFFBOARDED, code "offboarded", audited CONFIRMATION_FAILED, nothing linked.
    On success the tenant's shared cached token is invalidated after commit
    (``entra.invalidate_token``): this confirmation's token came from a fresh MSAL app that
    bypasses the shared cache, which may still hold an older token without the roles.
    """
    # Read from the row, not the caller's object (which may predate an offboarding).
    was_offboarded = Customer.objects.filter(
        pk=customer.pk, consent_state=ConsentState.OFFBOARDED
    ).exists()
    try:
        tid = entra.normalize_tenant_id(tenant_id)
    except (ValueError, AttributeError, TypeError):
        return _refuse(
            customer=customer,
            tenant_id=None,
            outcome=Outcome.INVALID_TENANT,
            code="invalid_tenant_id",
            message="The tenant ID is not a GUID; nothing was linked.",
            actor=actor,
            actor_label=actor_label,
            detail={"value": str(tenant_id)[:100]},
        )
    conflict = _conflict(customer, tid)
    if conflict is not None:
        return _refuse_conflict(customer, tid, conflict, actor=actor, actor_label=actor_label)
    if customer.tenant_id is None:
        PendingTenant.objects.update_or_create(
            customer=customer,
            defaults={"tenant_id": tid, "source": source, "entered_as": entered_as[:253]},
        )

    def fail(exc: errors.MicrosoftError, granted: list[str] | None = None) -> Confirmation:
        return _fail(
            customer=customer,
            tenant_id=tid,
            exc=exc,
            actor=actor,
            actor_label=actor_label,
            granted_roles=granted,
        )

    try:
        token = entra.get_token(tid, fresh=True)
    except errors.MicrosoftError as exc:
        return fail(exc)
    except ImproperlyConfigured as exc:
        return fail(
            errors.AppCredentialsError(
                f"The portal's application is not configured: {exc}.",
                aadsts=None,
                error="not_configured",
            )
        )
    granted = token.roles
    missing = consent.missing_roles(granted)
    if missing:
        return fail(
            errors.MissingRolesError(
                "Admin consent was given but the token lacks the application permission(s) "
                f"{', '.join(missing)}.",
                missing=missing,
            ),
            granted,
        )
    # The probe uses the fresh token: the shared cache may still hold an older one (§2.4).
    try:
        defender.DefenderClient(tid, _token=token).list_incidents(top=1)
    except errors.MicrosoftError as exc:
        return fail(exc, granted)

    offboarded_meanwhile = False
    try:
        with transaction.atomic():
            locked = Customer.objects.select_for_update().get(pk=customer.pk)
            if locked.consent_state == ConsentState.OFFBOARDED and not was_offboarded:
                # Offboarded while the token request and probe ran: offboarding wins.
                offboarded_meanwhile = True
                PendingTenant.objects.filter(customer=locked).delete()
            else:
                conflict = _conflict(locked, tid)
            if conflict is None and not offboarded_meanwhile:
                locked.tenant_id = tid  # type: ignore[assignment]
                if consent_given_at is not None:
                    locked.consent_given_at = consent_given_at
                locked.save(update_fields=["tenant_id", "consent_given_at", "updated_at"])
                customer = consent.mark_connected(
                    customer=locked, granted_roles=granted, actor=actor, actor_label=actor_label
                )
                PendingTenant.objects.filter(customer=customer).delete()
                # The shared cache may hold an older token of this tenant (e.g. without the
                # role just granted): drop it so the sync's next token is requested anew.
                transaction.on_commit(lambda: entra.invalidate_token(tid))
    except IntegrityError:  # another customer took the tenant between the check and the save
        conflict = ("tenant_in_use", f"Tenant {tid} is already linked to another customer.", {})
    if offboarded_meanwhile:
        return _refuse(
            customer=locked,
            tenant_id=tid,
            outcome=Outcome.OFFBOARDED,
            code="offboarded",
            message=RACE_OFFBOARDED_MESSAGE,
            actor=actor,
            actor_label=actor_label,
        )
    if conflict is not None:
        return _refuse_conflict(customer, tid, conflict, actor=actor, actor_label=actor_label)
    return Confirmation(
        outcome=Outcome.CONNECTED,
        customer=customer,
        tenant_id=tid,
        message="Connected: the token carries every required permission and the Defender API "
        "answered.",
        granted_roles=customer.granted_roles,
    )


def recheck(
    *, customer: Customer, actor: User | None = None, actor_label: str
) -> Confirmation | None:
    """Run ``confirm_tenant`` again for the customer's linked (or pending) tenant ID.

    Returns None, without auditing, when the customer has no tenant ID at all yet. Refuses an
    offboarded customer (Outcome.OFFBOARDED, code "offboarded", audited CONFIRMATION_FAILED,
    nothing contacted): reconnecting it needs new consent, through a new onboarding link or the
    manual path (``onboarding.services.link_tenant_manually``).

    ``customer`` is reloaded first (one primary-key query) on purpose: callers (the view, a
    shell, a task) may hold an object loaded earlier, and the offboarded check and the choice
    between linked and pending tenant ID must use the current row.
    """
    customer.refresh_from_db()
    if customer.consent_state == ConsentState.OFFBOARDED:
        return _refuse(
            customer=customer,
            tenant_id=str(customer.tenant_id) if customer.tenant_id else None,
            outcome=Outcome.OFFBOARDED,
            code="offboarded",
            message=OFFBOARDED_MESSAGE,
            actor=actor,
            actor_label=actor_label,
        )
    source: str
    if customer.tenant_id is not None:
        tid, source, entered_as = str(customer.tenant_id), PendingTenant.Source.MANUAL, ""
    else:
        pending = PendingTenant.objects.filter(customer=customer).first()
        if pending is None:
            return None
        tid, source, entered_as = str(pending.tenant_id), pending.source, pending.entered_as
    return confirm_tenant(
        customer=customer,
        tenant_id=tid,
        actor=actor,
        actor_label=actor_label,
        source=source,
        entered_as=entered_as,
    )
