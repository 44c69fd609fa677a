"""The per-tenant sync lock: at most one sync of a tenant at a time, across all workers.

``cache.add`` is atomic in Redis (SET NX), so exactly one caller gets the lock. The lock expires
after ``settings.SYNC_LOCK_TTL`` seconds (the task's hard time limit plus a margin) in case its
holder is killed without reaching ``finally``; that TTL is shorter than Redis's visibility
timeout, so the redelivered task of a killed worker finds the lock free. Release is
owner-checked: a holder whose lock expired never deletes another holder's lock.
"""

from __future__ import annotations

import secrets

from django.conf import settings
from django.core.cache import cache


def _key(tenant_id: str) -> str:
    return f"sync-lock:{tenant_id}"


class TenantSyncLock:
    """Exclusive right to sync one tenant. Use ``acquire()`` / ``release()`` in try/finally."""

    def __init__(self, tenant_id: str, *, ttl: int | None = None) -> None:
        self.key = _key(tenant_id)
        self.owner = secrets.token_hex(16)
        self.ttl = int(ttl if ttl is not None else settings.SYNC_LOCK_TTL)
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


def is_locked(tenant_id: str) -> bool:
    """True while some worker holds the tenant's sync lock."""
    return cache.get(_key(tenant_id)) is not None
