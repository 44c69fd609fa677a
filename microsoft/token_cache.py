"""MSAL token caches shared by every worker process, one entry per tenant (contract §10.3).

Each tenant's ``msal.SerializableTokenCache`` is serialized into Django's cache (Redis in
production; the database cache in the demo) under ``msal-token-cache:<tenant id>``, so all
workers reuse one token per tenant per lifetime. A per-tenant lock (``CacheLock``:
``cache.add``, atomic in Redis) makes the cache-check-then-request sequence exclusive across
processes, so N workers that miss at once still send one token request. Tenants never share an
entry. ``CacheLock`` is also the mechanism of the sync lock (``sync.locks.TenantSyncLock``).
"""

from __future__ import annotations

import contextlib
import math
import secrets
import time
from collections.abc import Iterator

import msal
from django.conf import settings
from django.core.cache import cache

# Seconds a serialized cache entry lives; longer than any token (≤ 24 h for CAE tokens).
ENTRY_TTL = 26 * 3600
# HTTP attempts one token request may make while the lock is held: the POST plus one retry on
# a connection error (MSAL's own retry, contract §10.5; the portal's session has none today,
# but the lock must not expire early if that changes).
LOCK_REQUEST_ATTEMPTS = 2
# Seconds added to the token request's worst case: the shared-cache read and write, signing a
# certificate assertion, and scheduling delays of a busy worker.
LOCK_MARGIN_SECONDS = 10
# Seconds a waiter keeps trying beyond the lock's TTL, so it outlasts a crashed holder's lock.
LOCK_WAIT_MARGIN_SECONDS = 5.0


def lock_ttl() -> int:
    """Seconds a tenant's token lock lives at most (a crashed holder's lock expires after this).

    ``ceil(LOCK_REQUEST_ATTEMPTS × (MICROSOFT_CONNECT_TIMEOUT + MICROSOFT_READ_TIMEOUT)) +
    LOCK_MARGIN_SECONDS``: longer than the worst-case token request, so the lock never expires
    while its holder is still waiting for Entra ID (which would let a second process request
    another token). Defaults (5 s + 30 s): 2 × 35 + 10 = 80 s. Read from settings at each call.
    """
    per_attempt = float(settings.MICROSOFT_CONNECT_TIMEOUT) + float(settings.MICROSOFT_READ_TIMEOUT)
    return math.ceil(LOCK_REQUEST_ATTEMPTS * per_attempt) + LOCK_MARGIN_SECONDS


def lock_wait() -> float:
    """Seconds to wait for another process's token lock before giving up (TokenLockTimeout):
    ``lock_ttl() + LOCK_WAIT_MARGIN_SECONDS`` (defaults: 85 s)."""
    return lock_ttl() + LOCK_WAIT_MARGIN_SECONDS


class CacheLock:
    """An owner-checked lock in Django's cache, shared by every process using that cache.

    ``acquire()`` is one ``cache.add(key, owner, timeout=ttl)`` (SET NX in Redis: atomic, so
    exactly one caller gets it) with a random ``owner`` value; ``ttl`` (seconds) frees the lock
    of a holder killed before ``release()``. ``release()`` deletes the key only while it still
    holds this object's owner value, so a holder whose lock expired (and was taken by another
    process) never deletes the other holder's lock. ``held`` is True between a successful
    ``acquire()`` and ``release()``.
    """

    def __init__(self, key: str, *, ttl: int) -> None:
        self.key = key
        self.owner = secrets.token_hex(16)
        self.ttl = int(ttl)
        self.held = False

    def acquire(self) -> bool:
        """Take the lock if it is free; True on success. Never waits."""
        self.held = bool(cache.add(self.key, self.owner, timeout=self.ttl))
        return self.held

    def release(self) -> None:
        """Release the lock if this object still owns it."""
        if self.held and cache.get(self.key) == self.owner:
            cache.delete(self.key)
        self.held = False


class TokenLockTimeout(Exception):
    """Another process held the tenant's token lock for longer than ``lock_wait()`` seconds."""


def _cache_key(tenant_id: str) -> str:
    return f"msal-token-cache:{tenant_id}"


def _lock_key(tenant_id: str) -> str:
    return f"msal-token-lock:{tenant_id}"


def load_into(tenant_id: str, token_cache: msal.SerializableTokenCache) -> None:
    """Replace ``token_cache``'s state with the shared entry for ``tenant_id``; an absent
    entry (never stored, or forgotten after a 401 in another process) empties it, so a token
    dropped anywhere is dropped everywhere."""
    state = cache.get(_cache_key(tenant_id))
    token_cache.deserialize(state or "")
    token_cache.has_state_changed = False


def save_from(tenant_id: str, token_cache: msal.SerializableTokenCache) -> None:
    """Write ``token_cache`` to the shared entry if MSAL changed it."""
    if token_cache.has_state_changed:
        cache.set(_cache_key(tenant_id), token_cache.serialize(), timeout=ENTRY_TTL)
        token_cache.has_state_changed = False


def forget(tenant_id: str) -> None:
    """Drop the shared entry (after a 401, or when consent changed)."""
    cache.delete(_cache_key(tenant_id))


@contextlib.contextmanager
def tenant_lock(tenant_id: str) -> Iterator[None]:
    """Hold the tenant's token lock (a ``CacheLock`` living ``lock_ttl()`` seconds), polling
    with backoff (20 ms doubling to 0.5 s); raises TokenLockTimeout after ``lock_wait()``."""
    lock = CacheLock(_lock_key(tenant_id), ttl=lock_ttl())
    deadline = time.monotonic() + lock_wait()
    delay = 0.02
    while not lock.acquire():
        if time.monotonic() > deadline:
            raise TokenLockTimeout(f"token lock for tenant {tenant_id} not released")
        time.sleep(delay)
        delay = min(delay * 2, 0.5)
    try:
        yield
    finally:
        lock.release()
