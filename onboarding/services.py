"""Onboarding services: start admin consent, link a tenant manually (v1 path), and the fixed
redirect URI. Confirmation itself is in ``onboarding.confirmation``; the callback in
``onboarding.callback``; links in ``onboarding.links``.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.contrib.auth.models import User
from django.contrib.sessions.backends.base import SessionBase
from django.urls import reverse

from microsoft import entra, errors
from onboarding.confirmation import Confirmation, Outcome, confirm_tenant
from onboarding.models import OnboardingLink, PendingTenant
from onboarding.state import mint_state
from tenants.consent import record_audit
from tenants.models import AuditAction, Customer
from tenants.services import update_customer


def redirect_uri() -> str:
    """The one admin-consent redirect URI to register in Entra ID: PORTAL_URL +
    ``/onboarding/callback/`` (from settings, never from a request's Host header)."""
    return f"{settings.PORTAL_URL}{reverse('onboarding:callback')}"


def begin_consent(*, link: OnboardingLink, session: SessionBase) -> str:
    """Mint an OAuth state for ``link`` bound to ``session``, audit CONSENT_STARTED, and return
    Microsoft's v2 admin-consent URL (contract §2.3) to redirect the browser to."""
    state = mint_state(link=link, session=session)
    record_audit(
        customer=link.customer,
        action=AuditAction.CONSENT_STARTED,
        actor_label="customer administrator",
        message="The customer administrator was sent to Microsoft's admin-consent page.",
        detail={"link_id": link.pk},
    )
    return entra.admin_consent_url(state=state, redirect_uri=redirect_uri())


def link_tenant_manually(
    *,
    customer: Customer,
    tenant_or_domain: str,
    actor: User | None = None,
    actor_label: str,
    source: str = PendingTenant.Source.MANUAL,
) -> Confirmation:
    """The v1 path (contract §2.1): the MSSP enters the customer's tenant ID or verified domain.

    A domain is resolved to the tenant ID through OpenID discovery (``entra.resolve_tenant_id``);
    then TENANT_LINKED is audited and ``confirm_tenant`` runs. A value that is neither a GUID
    nor a resolvable domain is refused (audited, nothing stored) with Outcome.INVALID_TENANT, or
    Outcome.FAILED when Entra ID could not be reached.

    When a domain was entered, the tenant is connected and the customer has no primary domain
    yet, the domain becomes its primary domain (``tenants.services.update_customer``, audited
    CUSTOMER_UPDATED). Used by the tenant page and the ``connect_tenant`` command alike.
    """
    value = (tenant_or_domain or "").strip()
    try:
        tid = entra.resolve_tenant_id(value)
    except errors.MicrosoftError as exc:
        transient = isinstance(exc, errors.TransientError)
        message = f"{exc.message} Check the tenant ID or domain." if not transient else exc.message
        code = exc.code or "not_found"
        record_audit(
            customer=customer,
            action=AuditAction.CONFIRMATION_FAILED,
            actor=actor,
            actor_label=actor_label,
            message=message,
            detail={"code": code, "entered": value[:253]},
        )
        return Confirmation(
            outcome=Outcome.FAILED if transient else Outcome.INVALID_TENANT,
            customer=customer,
            tenant_id=None,
            message=message,
            code=code,
            error=exc,
        )
    entered_as = "" if value.lower() == tid else value.lower()
    record_audit(
        customer=customer,
        action=AuditAction.TENANT_LINKED,
        actor=actor,
        actor_label=actor_label,
        message=f"Tenant {tid} entered"
        + (f" as the domain {entered_as}" if entered_as else "")
        + "; confirming it.",
        detail={"tenant_id": tid, "entered": value[:253]},
    )
    confirmation = confirm_tenant(
        customer=customer,
        tenant_id=tid,
        actor=actor,
        actor_label=actor_label,
        source=source,
        entered_as=entered_as,
    )
    domain = _entered_domain(value)
    if confirmation.ok and domain and not confirmation.customer.primary_domain:
        confirmation.customer = update_customer(
            customer=confirmation.customer,
            actor=actor,
            actor_label=actor_label,
            primary_domain=domain,
        )
    return confirmation


def _entered_domain(value: str) -> str:
    """``value`` as a domain (lowercased, no trailing dot), or "" when it is a tenant ID."""
    try:
        uuid.UUID(value)
    except ValueError:
        return value.lower().rstrip(".")[:253]
    return ""
