"""MSAL token caches shared by every worker process, one entry per tenant (contract §10.3).

Each tenant's ``msal.SerializableTokenCache`` is serialized into Django's cache (Redis in
production; the database cache in the demo) under ``msal-token-cache:<tenant id>``, so all
workers reuse one token per tenant per lifetime. A per-tenant lock (``cache.add``, atomic in
Redis) makes the cache-check-then-request sequence exclusive across processes, so N workers
that miss at once still send one token request. Tenants never share an entry.
"""

from __future__ import annotations

import contextlib
import secrets
import time
from collections.abc import Iterator

import msal
from django.core.cache import cache

# Seconds a serialized cache entry lives; longer than any token (≤ 24 h for CAE tokens).
ENTRY_TTL = 26 * 3600
# Seconds a token lock is held at most (a crashed holder's lock expires after this).
LOCK_TTL = 30
# Seconds to wait for another process's lock before giving up.
LOCK_WAIT = 35.0


class TokenLockTimeout(Exception):
    """Another process held the tenant's token lock for longer than LOCK_WAIT seconds."""


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
    """Hold the tenant's token lock; raises TokenLockTimeout after LOCK_WAIT seconds."""
    key, owner = _lock_key(tenant_id), secrets.token_hex(8)
    deadline = time.monotonic() + LOCK_WAIT
    delay = 0.02
    while not cache.add(key, owner, timeout=LOCK_TTL):
        if time.monotonic() > deadline:
            raise TokenLockTimeout(f"token lock for tenant {tenant_id} not released")
        time.sleep(delay)
        delay = min(delay * 2, 0.5)
    try:
        yield
    finally:
        if cache.get(key) == owner:
            cache.delete(key)
