"""The per-tenant sync lock: at most one sync of a tenant at a time, across all workers.

``cache.add`` is atomic in Redis (SET NX), so exactly one caller gets the lock. The lock expires
after ``settings.SYNC_LOCK_TTL`` seconds (the task's hard time limit plus a margin) in case its
holder is killed without reaching ``finally``; that TTL is shorter than Redis's visibility
timeout, so the redelivered task of a killed worker finds the lock free. Release is
owner-checked: a holder whose lock expired never deletes another holder's lock. The mechanism
is ``microsoft.token_cache.CacheLock``, the one the per-tenant token lock uses.
"""

from __future__ import annotations

from django.conf import settings
from django.core.cache import cache

from microsoft.token_cache import CacheLock


def _key(tenant_id: str) -> str:
    return f"sync-lock:{tenant_id}"


class TenantSyncLock(CacheLock):
    """Exclusive right to sync one tenant. Use ``acquire()`` (never waits; True on success) /
    ``release()`` (owner-checked) in try/finally. ``ttl`` defaults to ``settings.SYNC_LOCK_TTL``
    seconds."""

    def __init__(self, tenant_id: str, *, ttl: int | None = None) -> None:
        super().__init__(_key(tenant_id), ttl=ttl if ttl is not None else settings.SYNC_LOCK_TTL)


def is_locked(tenant_id: str) -> bool:
    """True while some worker holds the tenant's sync lock."""
    return cache.get(_key(tenant_id)) is not None
