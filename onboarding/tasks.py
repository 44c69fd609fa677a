"""Celery tasks of onboarding: thin wrappers that take IDs and call ``onboarding.rechecks``."""

from __future__ import annotations

from celery import shared_task

from onboarding import rechecks


@shared_task(name="onboarding.recheck_consent")
def recheck_consent(customer_id: int, attempt: int) -> None:
    """Automatic consent re-check ``attempt`` of customer ``customer_id`` (idempotent: a
    customer already connected or offboarded is left alone)."""
    rechecks.run_recheck(customer_id=int(customer_id), attempt=int(attempt))
