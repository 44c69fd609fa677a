"""Per-tenant call limiter for the Defender API, shared by every worker through Django's cache.

Microsoft allows 50 calls a minute and 1,500 an hour per tenant and application on
``GET /api/incidents``, in sliding windows (contract §5.8). ``TenantRateLimiter`` keeps each
tenant under ``settings.DEFENDER_CALLS_PER_MINUTE`` / ``DEFENDER_CALLS_PER_HOUR`` (defaults 40
and 1,200: 20 % headroom), however many worker processes call that tenant.

Algorithm (bucketed sliding window, conservative): calls are counted in 1-second buckets for the
minute window and 1-minute buckets for the hour window (``cache.add`` + ``cache.incr``: atomic
in Redis). To take a slot a caller first increments the current buckets, then sums the window
plus one extra bucket (61 one-second buckets; 61 one-minute buckets) with one ``get_many``. That
sum over-counts, never under-counts, the calls in any 60 s / 3,600 s sliding window, so staying
at or below the limit here keeps Microsoft's sliding count below it too. Over the limit, the
caller gives its slot back (``decr``) and sleeps until the oldest bucket that must expire has
left the window, then tries again. Because every caller increments before it checks, two
callers racing for the last slot may both back off, but never both proceed.

A 429's ``Retry-After`` (§9) ``block``s the tenant: a cache key holds the time before which no
call may go, and ``acquire`` waits for it (or raises ``ThrottledError`` when the wait is longer
than ``max_wait``, so the sync task is re-queued with that countdown instead of holding a worker).
The sync service also records the block in ``TenantSyncState.throttled_until`` for the sweep.

With the database cache (demo without Redis) ``incr`` is not atomic; counts may then be off by
a call or two under heavy concurrency. Production requires Redis.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from django.conf import settings
from django.core.cache import cache

from microsoft.errors import ThrottledError

# Seconds kept for each bucket key (window + margin).
_SECOND_TTL = 70
_MINUTE_TTL = 3 * 3600 + 120


def _key(tenant_id: str, kind: str, index: int | None = None) -> str:
    suffix = "" if index is None else f":{index}"
    return f"defender-rl:{tenant_id}:{kind}{suffix}"


@dataclass
class TenantRateLimiter:
    """Implements ``microsoft.defender.CallLimiter``.

    ``per_minute``/``per_hour`` default to the settings; ``max_wait`` is the longest a single
    ``acquire`` sleeps (seconds) before raising ``ThrottledError``; ``clock``/``sleep`` are
    injectable for tests.
    """

    per_minute: int = field(default_factory=lambda: int(settings.DEFENDER_CALLS_PER_MINUTE))
    per_hour: int = field(default_factory=lambda: int(settings.DEFENDER_CALLS_PER_HOUR))
    max_wait: float = field(default_factory=lambda: float(settings.DEFENDER_LIMITER_MAX_WAIT))
    clock: Callable[[], float] = time.time
    sleep: Callable[[float], None] = time.sleep

    def acquire(self, tenant_id: str) -> float:
        """Take one call slot for ``tenant_id``; returns the seconds waited.

        Raises ThrottledError (``retry_after`` = seconds until a slot or the end of a block)
        when the wait would exceed ``max_wait`` in total.
        """
        waited = 0.0
        while True:
            now = self.clock()
            wait = self.blocked_for(tenant_id, now=now)
            if wait <= 0:
                wait = self._try_take(tenant_id, now)
                if wait <= 0:
                    return waited
            if waited + wait > self.max_wait:
                raise ThrottledError(
                    f"The call limit for this tenant is reached; next call in {wait:.0f} s.",
                    retry_after=math.ceil(wait),
                )
            self.sleep(wait)
            waited += wait

    def block(self, tenant_id: str, seconds: float) -> None:
        """No call may go to ``tenant_id`` for ``seconds`` (a 429's Retry-After), in any
        process. A longer existing block is kept. ``seconds`` must be finite (ValueError
        otherwise: the cache timeout is an integer); the Defender client clamps Retry-After
        to [1, 3600] s before calling this."""
        if not math.isfinite(seconds):
            raise ValueError(f"block seconds must be finite, not {seconds!r}")
        until = self.clock() + max(0.0, seconds)
        key = _key(tenant_id, "blocked")
        current = cache.get(key)
        if current is None or float(current) < until:
            cache.set(key, until, timeout=math.ceil(seconds) + 5)

    def blocked_for(self, tenant_id: str, *, now: float | None = None) -> float:
        """Seconds left in the tenant's block (0 when not blocked)."""
        until = cache.get(_key(tenant_id, "blocked"))
        if until is None:
            return 0.0
        return max(0.0, float(until) - (self.clock() if now is None else now))

    def usage(self, tenant_id: str, *, now: float | None = None) -> tuple[int, int]:
        """(calls counted in the minute window, calls counted in the hour window)."""
        now = self.clock() if now is None else now
        second, minute = int(now), int(now // 60)
        seconds_keys = [_key(tenant_id, "s", second - i) for i in range(61)]
        minutes_keys = [_key(tenant_id, "m", minute - i) for i in range(61)]
        values = cache.get_many(seconds_keys + minutes_keys)
        per_second = sum(int(values.get(k, 0)) for k in seconds_keys)
        per_minute = sum(int(values.get(k, 0)) for k in minutes_keys)
        return per_second, per_minute

    def _try_take(self, tenant_id: str, now: float) -> float:
        """Count one call; if over a limit, un-count it and return the seconds to wait."""
        second, minute = int(now), int(now // 60)
        s_key, m_key = _key(tenant_id, "s", second), _key(tenant_id, "m", minute)
        _incr(s_key, _SECOND_TTL)
        _incr(m_key, _MINUTE_TTL)
        seconds_keys = [_key(tenant_id, "s", second - i) for i in range(61)]
        minutes_keys = [_key(tenant_id, "m", minute - i) for i in range(61)]
        values = cache.get_many(seconds_keys + minutes_keys)
        s_counts = [int(values.get(k, 0)) for k in seconds_keys]
        m_counts = [int(values.get(k, 0)) for k in minutes_keys]
        wait = 0.0
        if self.per_minute > 0 and sum(s_counts) > self.per_minute:
            wait = max(wait, _wait_for(s_counts, self.per_minute, 1.0, now))
        if self.per_hour > 0 and sum(m_counts) > self.per_hour:
            wait = max(wait, _wait_for(m_counts, self.per_hour, 60.0, now))
        if wait > 0:
            _decr(s_key)
            _decr(m_key)
        return wait


def _wait_for(counts: list[int], limit: int, width: float, now: float) -> float:
    """Seconds until enough of the oldest buckets leave the window for one more call.

    ``counts[i]`` is the bucket ``i`` widths before the current one; the window spans 61
    buckets, so bucket ``i`` stops counting when the current bucket index passes ``i`` + 60.
    """
    excess = sum(counts) - limit
    current_start = math.floor(now / width) * width
    for age in range(len(counts) - 1, -1, -1):
        excess -= counts[age]
        if excess <= 0:
            # bucket `age` leaves when the current bucket is (61 - age) widths later
            return max(0.001, current_start + (61 - age) * width - now)
    return 61 * width


def _incr(key: str, ttl: int) -> int:
    cache.add(key, 0, timeout=ttl)
    try:
        return int(cache.incr(key))
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=ttl)
        return 1


def _decr(key: str) -> None:
    with contextlib.suppress(ValueError):  # the bucket expired meanwhile
        cache.decr(key)
