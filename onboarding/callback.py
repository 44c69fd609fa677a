"""The admin-consent redirect back to the portal (contract §2.3, §2.4).

``handle_callback`` reads ``state``, ``tenant``, ``admin_consent``, ``error`` and
``error_description``; consumes the state (single use, session-bound); records a decline, or
validates the tenant GUID and runs ``confirm_tenant``. Every path that names a customer (through
its state) is audited; a callback without a state, or with a state this portal did not issue,
names none and is only logged (one INFO line, no parameter values). Nothing is stored
on the customer unless the tenant is confirmed. The result is what the customer administrator's
page shows. No parameter of the callback is ever used as a redirect target.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass

from django.conf import settings
from django.contrib.sessions.backends.base import SessionBase
from django.utils import timezone

from microsoft import entra
from onboarding import explain, rechecks
from onboarding.confirmation import Confirmation, Outcome, confirm_tenant
from onboarding.models import ConsentRequest, PendingTenant
from onboarding.state import StateRejected, consume_state, record_outcome
from tenants.consent import record_audit
from tenants.models import AuditAction, ConsentState, Customer

logger = logging.getLogger(__name__)

ACTOR = "customer administrator"

# Plain words for each state rejection (shown to the customer administrator).
_REJECTIONS = {
    "missing": "This page can only be reached from Microsoft's consent page, and the response "
    "carried no security code (state).",
    "unknown": "The response's security code (state) is not one this portal issued.",
    "used": "This consent response was already used.",
    "expired": "This consent response arrived too late: the consent must be completed within "
    "{minutes} minutes of pressing the button.",
    "session": "This consent response belongs to a consent started in another browser or "
    "browser session.",
    "link": "The onboarding link this consent was started from has been replaced or has expired.",
    "no_consent": "Microsoft's response did not say that admin consent was granted.",
    "tenant_not_guid": "Microsoft's response did not carry a valid tenant ID.",
}


@dataclass
class CallbackResult:
    """What the callback page shows. ``status``: "connected", "declined", "failed", "rejected"
    or "manual" (a v1-link return without state); ``http_status`` for the response."""

    status: str
    http_status: int
    title: str
    message: str
    advice: str = ""
    code: str = ""
    customer: Customer | None = None
    confirmation: Confirmation | None = None


def _param(params: Mapping[str, str], name: str, limit: int = 2000) -> str:
    return str(params.get(name) or "")[:limit]


def _log_anonymous(reason: str, flow: str = "v2") -> None:
    """One log line for a callback that names no customer (no state, or a state this portal
    did not issue). Not audited: anyone can send such a request, and an audit row each time
    would let anonymous visitors fill the audit table. No parameter value is logged."""
    logger.info(
        "consent callback refused: reason=%s flow=%s (no customer; not audited)", reason, flow
    )


def _reject(
    reason: str, request: ConsentRequest | None, extra: dict[str, object] | None = None
) -> CallbackResult:
    minutes = int(settings.CONSENT_STATE_TTL.total_seconds() // 60)
    message = _REJECTIONS[reason].format(minutes=minutes)
    customer = request.customer if request else None
    if request is None:
        # Missing or unknown state: no customer to attach it to, and anyone can send this.
        _log_anonymous(reason)
    else:
        if reason != "used":  # keep the first callback's outcome
            record_outcome(request, f"rejected:{reason}")
        record_audit(
            customer=customer,
            action=AuditAction.CALLBACK_REJECTED,
            actor_label=ACTOR,
            message=f"Consent callback refused: {message}",
            detail={"reason": reason, **(extra or {})},
        )
    return CallbackResult(
        status="rejected",
        http_status=400,
        title="This consent response cannot be used",
        message=message,
        advice=f"Nothing was connected. Open the onboarding link {settings.MSSP_NAME} sent you "
        "again and press the button once more.",
        code=reason,
        customer=customer,
    )


def _declined(request: ConsentRequest, error: str, description: str) -> CallbackResult:
    customer = request.customer
    code = explain.aadsts_code(description) or error
    message = explain.declined_message(error, description)
    record_outcome(request, "declined")
    record_audit(
        customer=customer,
        action=AuditAction.CONSENT_DECLINED,
        actor_label=ACTOR,
        message=message,
        detail={
            "error": error[:100],
            "code": code,
            "error_description": description.split("\r\n")[0].split(" Trace ID:")[0][:500],
        },
    )
    if customer.consent_state != ConsentState.CONNECTED:
        Customer.objects.filter(pk=customer.pk).update(
            last_error_code=code[:40], last_error=message
        )
    return CallbackResult(
        status="declined",
        http_status=200,
        title="Consent was not granted",
        message=message,
        code=code,
        customer=customer,
    )


def handle_callback(*, params: Mapping[str, str], session: SessionBase) -> CallbackResult:
    """Process one admin-consent redirect (see module docstring). Never raises for bad input."""
    state = _param(params, "state", 200)
    error = _param(params, "error", 100)
    if not state and not error and ("code" in params or "session_state" in params):
        # The v1 link (§2.1) returns a code, no state and no tenant: nothing to confirm here,
        # and no customer to audit it on.
        _log_anonymous("missing", flow="v1")
        return CallbackResult(
            status="manual",
            http_status=200,
            title="Consent recorded by Microsoft",
            message=f"If you accepted, tell {settings.MSSP_NAME} your tenant ID (Entra ID, "
            "Overview) or your verified domain so they can finish connecting your tenant.",
            code="v1",
        )
    try:
        request = consume_state(state=state or None, session=session)
    except StateRejected as exc:
        return _reject(exc.reason, exc.request)

    if error:
        return _declined(request, error, _param(params, "error_description"))
    if _param(params, "admin_consent", 10).lower() != "true":
        return _reject("no_consent", request)
    raw_tenant = _param(params, "tenant", 100)
    try:
        tenant_id = entra.normalize_tenant_id(raw_tenant)
    except ValueError:
        return _reject("tenant_not_guid", request, {"tenant": raw_tenant})

    customer = request.customer
    now = timezone.now()
    record_outcome(request, "accepted")
    record_audit(
        customer=customer,
        action=AuditAction.CONSENT_RETURNED,
        actor_label=ACTOR,
        message=f"Microsoft returned admin consent for tenant {tenant_id}; confirming it.",
        detail={"tenant_id": tenant_id, "scope": _param(params, "scope", 500)},
    )
    confirmation = confirm_tenant(
        customer=customer,
        tenant_id=tenant_id,
        actor_label=ACTOR,
        source=PendingTenant.Source.CALLBACK,
        consent_given_at=now,
    )
    if confirmation.ok:
        return CallbackResult(
            status="connected",
            http_status=200,
            title="Your tenant is connected",
            message=f"{settings.MSSP_NAME} can now see your Microsoft Defender incidents. "
            "You can close this page.",
            customer=confirmation.customer,
            confirmation=confirmation,
        )
    if rechecks.worth_retrying(confirmation):
        rechecks.schedule_recheck(customer_id=customer.pk)
    if confirmation.outcome == Outcome.CONFLICT:
        message = "This Microsoft tenant cannot be connected through this onboarding link."
    elif confirmation.outcome == Outcome.OFFBOARDED:
        message = "This onboarding link was withdrawn while your consent was being confirmed."
    else:
        message = (
            f"Consent was received, but the portal could not confirm it: {confirmation.message}"
        )
    return CallbackResult(
        status="failed",
        http_status=200,
        title="Your tenant is not connected yet",
        message=message,
        advice=explain.customer_advice(confirmation.error, code=confirmation.code),
        code=confirmation.code,
        customer=confirmation.customer,
        confirmation=confirmation,
    )
