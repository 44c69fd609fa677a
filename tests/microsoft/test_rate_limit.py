"""microsoft.rate_limit: the per-tenant limiter shared through Django's cache."""

from __future__ import annotations

import threading
from collections import deque

import pytest

from microsoft.errors import ThrottledError
from microsoft.rate_limit import TenantRateLimiter

TENANT = "6c2d8e4f-1a3b-4c5d-9e7f-0a1b2c3d4e5f"
OTHER = "0f3a9c2e-7d41-4e8b-a5c6-91b2d3e4f5a6"


class FakeClock:
    """Time that moves only when someone sleeps."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def limiter(clock: FakeClock, **kwargs: float) -> TenantRateLimiter:
    options = {"per_minute": 5, "per_hour": 1000, "max_wait": 120.0, **kwargs}
    return TenantRateLimiter(clock=clock, sleep=clock.sleep, **options)  # type: ignore[arg-type]


def max_in_window(times: list[float], width: float) -> int:
    window: deque[float] = deque()
    best = 0
    for t in sorted(times):
        window.append(t)
        while window[0] <= t - width:
            window.popleft()
        best = max(best, len(window))
    return best


def test_calls_under_the_minute_limit_do_not_wait() -> None:
    clock = FakeClock()
    lim = limiter(clock)

    waits = [lim.acquire(TENANT) for _ in range(5)]

    assert waits == [0.0] * 5
    assert clock.sleeps == []
    assert lim.usage(TENANT) == (5, 5)


def test_the_call_over_the_minute_limit_waits_until_the_oldest_bucket_leaves() -> None:
    clock = FakeClock(start=1_700_000_000.25)
    lim = limiter(clock)
    for _ in range(5):
        lim.acquire(TENANT)

    waited = lim.acquire(TENANT)

    # the 5 calls sit in second 1_700_000_000; it leaves the 61-bucket window at +61 s
    assert waited == pytest.approx(60.75)
    assert clock.now == pytest.approx(1_700_000_061.0)


def test_no_sliding_minute_ever_holds_more_calls_than_the_limit() -> None:
    clock = FakeClock()
    lim = limiter(clock, per_minute=7)
    times = []
    for i in range(60):
        lim.acquire(TENANT)
        times.append(clock.now)
        clock.now += 0.37 * (i % 5)

    assert max_in_window(times, 60.0) <= 7
    assert len(times) == 60


def test_two_limiters_share_the_count_like_two_workers() -> None:
    clock = FakeClock()
    first, second = limiter(clock), limiter(clock)
    for _ in range(3):
        first.acquire(TENANT)
    for _ in range(2):
        second.acquire(TENANT)

    assert second.usage(TENANT) == (5, 5)
    with pytest.raises(ThrottledError):
        limiter(clock, max_wait=10).acquire(TENANT)


def test_tenants_are_counted_separately() -> None:
    clock = FakeClock()
    lim = limiter(clock)
    for _ in range(5):
        lim.acquire(TENANT)

    assert lim.acquire(OTHER) == 0.0
    assert lim.usage(OTHER) == (1, 1)


def test_exhausted_hour_quota_raises_with_the_wait_instead_of_blocking() -> None:
    clock = FakeClock(start=1_700_000_080.0)  # 40 s into the minute bucket 28_333_334
    lim = limiter(clock, per_minute=0, per_hour=3, max_wait=65)
    for _ in range(3):
        lim.acquire(TENANT)

    with pytest.raises(ThrottledError) as info:
        lim.acquire(TENANT)

    # that bucket leaves the 61-bucket hour window 61 minutes after it began
    assert info.value.retry_after == 61 * 60 - 40
    assert lim.usage(TENANT) == (3, 3)  # the refused call was given back


def test_block_stops_every_call_until_retry_after_expires() -> None:
    clock = FakeClock()
    lim = limiter(clock)
    lim.block(TENANT, 30)

    assert lim.blocked_for(TENANT) == 30
    waited = lim.acquire(TENANT)
    assert waited == 30
    assert lim.blocked_for(TENANT) == 0


def test_block_longer_than_max_wait_raises_throttled() -> None:
    clock = FakeClock()
    lim = limiter(clock, max_wait=5)
    lim.block(TENANT, 42)

    with pytest.raises(ThrottledError) as info:
        lim.acquire(TENANT)

    assert info.value.retry_after == 42
    assert clock.sleeps == []
    assert lim.usage(TENANT) == (0, 0)


def test_a_shorter_block_does_not_shorten_a_longer_one() -> None:
    clock = FakeClock()
    lim = limiter(clock)
    lim.block(TENANT, 50)
    lim.block(TENANT, 5)

    assert lim.blocked_for(TENANT) == 50


def test_concurrent_callers_never_exceed_the_limit() -> None:
    lim = TenantRateLimiter(per_minute=30, per_hour=1000, max_wait=0)
    granted: list[int] = []
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(10):
            try:
                lim.acquire(TENANT)
            except ThrottledError:
                continue
            with lock:
                granted.append(1)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # 80 attempts for 30 slots: never more than 30; racing callers may both back off
    assert 30 - 8 <= len(granted) <= 30
    assert lim.usage(TENANT)[0] == len(granted)
