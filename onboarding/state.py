"""The OAuth ``state`` of the admin-consent redirect (contract §2.4).

- Minted when the customer administrator presses the consent button: 256 random bits, stored
  server-side as a SHA-256 hash (``ConsentRequest``), bound to the customer's onboarding link and
  to the browser session (a random nonce kept in the session; the request stores its hash).
- Lives settings.CONSENT_STATE_TTL (default 10 minutes).
- Consumed on the first callback that presents it, whatever the result; missing, unknown,
  reused, expired, other-session and revoked-link states are rejected. Comparisons of secrets
  are constant-time (``hmac.compare_digest``).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta

from django.conf import settings
from django.contrib.sessions.backends.base import SessionBase
from django.db import transaction
from django.utils import timezone

from onboarding.models import ConsentRequest, OnboardingLink

# Session key holding this browser's consent nonce (URL-safe text, 256 bits).
SESSION_NONCE_KEY = "onboarding_consent_nonce"
# Consumed or expired consent requests older than this are deleted when a new one is minted.
RETENTION = timedelta(days=30)


class StateRejected(Exception):
    """The callback's state cannot be accepted. ``reason`` is one of "missing", "unknown",
    "used", "expired", "session", "link"; ``request`` is the ConsentRequest when known."""

    def __init__(self, reason: str, request: ConsentRequest | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.request = request


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def _session_nonce(session: SessionBase, *, create: bool) -> str | None:
    nonce = session.get(SESSION_NONCE_KEY)
    if not isinstance(nonce, str) or not nonce:
        if not create:
            return None
        nonce = secrets.token_urlsafe(32)
        session[SESSION_NONCE_KEY] = nonce
    return nonce


def mint_state(*, link: OnboardingLink, session: SessionBase) -> str:
    """Create a ConsentRequest for ``link`` bound to ``session`` and return the raw state.

    The raw value is returned once, for the redirect URL; only its hash is stored.
    """
    state = secrets.token_urlsafe(32)
    nonce = _session_nonce(session, create=True)
    assert nonce is not None
    now = timezone.now()
    ConsentRequest.objects.filter(created_at__lt=now - RETENTION).delete()
    ConsentRequest.objects.create(
        link=link,
        customer_id=link.customer_id,
        state_hash=_digest(state),
        session_hash=_digest(nonce),
        expires_at=now + settings.CONSENT_STATE_TTL,
    )
    return state


def consume_state(*, state: str | None, session: SessionBase) -> ConsentRequest:
    """Validate and consume ``state`` from a callback; return its ConsentRequest (with link and
    customer loaded).

    The request is marked consumed before any other check, so the same state can never be
    accepted twice (concurrent callbacks race on a conditional UPDATE; one wins). Raises
    StateRejected.
    """
    if not state:
        raise StateRejected("missing")
    request = (
        ConsentRequest.objects.select_related("link", "customer")
        .filter(state_hash=_digest(state))
        .first()
    )
    if request is None:
        raise StateRejected("unknown")
    now = timezone.now()
    with transaction.atomic():
        won = ConsentRequest.objects.filter(pk=request.pk, consumed_at__isnull=True).update(
            consumed_at=now
        )
    if not won:
        raise StateRejected("used", request)
    request.consumed_at = now
    if request.expires_at <= now:
        raise StateRejected("expired", request)
    nonce = _session_nonce(session, create=False)
    if nonce is None or not hmac.compare_digest(_digest(nonce), request.session_hash):
        raise StateRejected("session", request)
    if not request.link.is_active:
        raise StateRejected("link", request)
    return request


def record_outcome(request: ConsentRequest, outcome: str) -> None:
    """Store what the callback found for ``request`` (for the admin and investigations)."""
    ConsentRequest.objects.filter(pk=request.pk).update(outcome=outcome[:40])
    request.outcome = outcome[:40]
