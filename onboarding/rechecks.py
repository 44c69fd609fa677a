"""Automatic re-checks after a confirmation that may succeed a little later.

Microsoft records an admin consent with a delay (contract §2.4: a token request right after
the redirect can still fail with AADSTS7000229), and Entra ID or the Defender API may be
briefly unreachable or throttling. When the consent callback's confirmation fails for one of
those reasons, the customer administrator is told that the MSSP "will check again"; this module
keeps that promise: ``schedule_recheck`` enqueues ``onboarding.recheck_consent`` after commit
with the first of ``ONBOARDING_RECHECK_DELAYS`` (seconds), and ``run_recheck`` (the task's
body) runs ``onboarding.confirmation.recheck`` and schedules the next attempt while the reason
is still one of those and delays remain. Each attempt is audited like a manual re-check (actor
"automatic re-check"); it never touches a customer that is connected, offboarded, or has no
tenant ID to confirm.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import transaction

from microsoft import errors
from onboarding.confirmation import Confirmation, recheck
from tenants.models import ConsentState, Customer

logger = logging.getLogger(__name__)

ACTOR_LABEL = "automatic re-check"
# Failures worth another try later: consent not visible yet, Microsoft unreachable or throttling.
RETRYABLE = (errors.ConsentMissingError, errors.TransientError, errors.ThrottledError)


def worth_retrying(confirmation: Confirmation) -> bool:
    """True when ``confirmation`` failed for a reason that may pass by itself (RETRYABLE)."""
    return not confirmation.ok and isinstance(confirmation.error, RETRYABLE)


def schedule_recheck(*, customer_id: int, attempt: int = 1) -> bool:
    """Enqueue re-check number ``attempt`` (1-based) of ``customer_id`` after the current
    transaction commits, ``ONBOARDING_RECHECK_DELAYS[attempt - 1]`` seconds later. Returns
    False, enqueuing nothing, when the delays are used up."""
    delays = settings.ONBOARDING_RECHECK_DELAYS
    if not 1 <= attempt <= len(delays):
        return False
    countdown = delays[attempt - 1]

    def publish() -> None:
        from onboarding.tasks import recheck_consent

        recheck_consent.apply_async((customer_id, attempt), countdown=countdown)

    transaction.on_commit(publish)
    logger.info(
        "onboarding recheck scheduled customer=%d attempt=%d in=%ds",
        customer_id,
        attempt,
        countdown,
    )
    return True


def run_recheck(*, customer_id: int, attempt: int) -> Confirmation | None:
    """Re-check ``customer_id``'s consent now (attempt ``attempt``) and schedule the next one
    when it failed for a RETRYABLE reason. Returns the confirmation, or None when there was
    nothing to check (customer gone, connected, offboarded, or without a tenant ID)."""
    customer = Customer.objects.filter(pk=customer_id).first()
    if customer is None or customer.consent_state in (
        ConsentState.CONNECTED,
        ConsentState.OFFBOARDED,
    ):
        return None
    confirmation = recheck(customer=customer, actor_label=ACTOR_LABEL)
    if confirmation is not None and worth_retrying(confirmation):
        schedule_recheck(customer_id=customer_id, attempt=attempt + 1)
    return confirmation
