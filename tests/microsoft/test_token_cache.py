"""microsoft.token_cache: the tenant token lock's lifetime and its owner-checked release (§10.3)."""

from __future__ import annotations

from typing import Any

import pytest

from microsoft import token_cache
from microsoft.token_cache import CacheLock, TokenLockTimeout, lock_ttl, lock_wait

TENANT = "6f1c2a4e-0b7d-4c39-9e15-2d8a7b3c4f10"


class RecordingCache:
    """Django's cache, recording the ``timeout`` of every ``add``."""

    def __init__(self, real: Any) -> None:
        self.real = real
        self.add_timeouts: list[int] = []

    def add(self, key: str, value: Any, timeout: int) -> bool:
        self.add_timeouts.append(timeout)
        return bool(self.real.add(key, value, timeout=timeout))

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


@pytest.mark.parametrize(
    ("connect", "read", "ttl"),
    [(5.0, 30.0, 80), (3.05, 27.0, 71), (10.0, 120.0, 270)],
)
def test_lock_ttl_is_two_worst_case_attempts_plus_a_margin(
    settings: Any, connect: float, read: float, ttl: int
) -> None:
    settings.MICROSOFT_CONNECT_TIMEOUT = connect
    settings.MICROSOFT_READ_TIMEOUT = read

    assert lock_ttl() == ttl
    assert lock_ttl() > 2 * (connect + read)
    assert lock_wait() == ttl + 5.0


def test_token_lock_lives_for_the_derived_ttl(
    settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.MICROSOFT_CONNECT_TIMEOUT = 5.0
    settings.MICROSOFT_READ_TIMEOUT = 30.0
    recording = RecordingCache(token_cache.cache)
    monkeypatch.setattr(token_cache, "cache", recording)

    with token_cache.tenant_lock(TENANT):
        assert recording.get(f"msal-token-lock:{TENANT}") is not None

    assert recording.add_timeouts == [80]
    assert recording.get(f"msal-token-lock:{TENANT}") is None


def test_token_lock_of_an_expired_holder_is_not_released_over_the_next_holder() -> None:
    key = f"msal-token-lock:{TENANT}"
    next_holder = CacheLock(key, ttl=60)

    with token_cache.tenant_lock(TENANT):
        token_cache.cache.delete(key)  # this holder's lock expired mid-request ...
        assert next_holder.acquire()  # ... and another process took it

    assert token_cache.cache.get(key) == next_holder.owner
    next_holder.release()
    assert token_cache.cache.get(key) is None


def test_waiter_gives_up_after_lock_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    holder = CacheLock(f"msal-token-lock:{TENANT}", ttl=60)
    assert holder.acquire()
    monkeypatch.setattr(token_cache, "lock_wait", lambda: 0.05)

    with pytest.raises(TokenLockTimeout) as info, token_cache.tenant_lock(TENANT):
        pass  # pragma: no cover - never reached

    assert str(info.value) == f"token lock for tenant {TENANT} not released"
    holder.release()


def test_cache_lock_is_exclusive_and_release_is_owner_checked() -> None:
    first, second = CacheLock("test-lock:a", ttl=60), CacheLock("test-lock:a", ttl=60)

    assert (first.acquire(), second.acquire()) == (True, False)
    second.release()  # not the owner: the key stays
    assert token_cache.cache.get("test-lock:a") == first.owner
    first.release()
    assert (first.held, token_cache.cache.get("test-lock:a")) == (False, None)
    assert second.acquire()
    second.release()
