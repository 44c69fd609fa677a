"""Sliding-window rate limits keyed by (tid, appid, endpoint) (§5.8 emulator choice)."""

from __future__ import annotations

import math
import threading
from collections import deque
from collections.abc import Sequence

WINDOWS = (60.0, 3600.0)

#: One counter to consult: its key and its (per-minute, per-hour) limits; 0 disables a window.
Counter = tuple[tuple[str, ...], tuple[int, int]]


class Throttle:
    """Counts accepted calls in 60 s and 3,600 s sliding windows per key.

    `check(key, limits, now)` returns None when the call is allowed (and records it) or the
    Retry-After value in whole seconds (>= 1): the time until the oldest call leaves the window
    that is full. Rejected calls are not recorded. A limit of 0 disables that window.
    `check_all(counters, now)` does the same for several counters at once (§5.8: a per-endpoint
    quota and the Incidents-API overall quota): the call is recorded in every counter only when
    none is full; otherwise the largest Retry-After is returned and nothing is recorded.
    """

    def __init__(self) -> None:
        self._calls: dict[tuple[str, ...], deque[float]] = {}
        self._lock = threading.Lock()

    def check(self, key: tuple[str, ...], limits: tuple[int, int], now: float) -> int | None:
        """Record a call at `now` (seconds) unless a window is full; see the class docstring."""
        return self.check_all([(key, limits)], now)

    def check_all(self, counters: Sequence[Counter], now: float) -> int | None:
        """Record a call at `now` in every counter unless one of them is full."""
        with self._lock:
            retry = 0.0
            for key, limits in counters:
                calls = self._calls.setdefault(key, deque())
                _expire(calls, limits, now)
                retry = max(retry, _wait(calls, limits, now))
            if retry > 0:
                return max(1, math.ceil(retry))
            for key, limits in counters:
                if any(limits):
                    self._calls[key].append(now)
            return None

    def reset(self) -> None:
        """Forget every window."""
        with self._lock:
            self._calls.clear()


def _expire(calls: deque[float], limits: tuple[int, int], now: float) -> None:
    """Drop timestamps older than the longest enabled window."""
    horizon = now - max((w for w, limit in zip(WINDOWS, limits, strict=True) if limit), default=0.0)
    while calls and calls[0] <= horizon:
        calls.popleft()


def _wait(calls: deque[float], limits: tuple[int, int], now: float) -> float:
    """Seconds until every full window has room again (0.0 when none is full)."""
    retry = 0.0
    for window, limit in zip(WINDOWS, limits, strict=True):
        if not limit:
            continue
        inside = len(calls) - _first_after(calls, now - window)
        if inside >= limit:
            oldest = calls[len(calls) - limit]
            retry = max(retry, oldest + window - now)
    return retry


def _first_after(calls: deque[float], start: float) -> int:
    """Index of the first timestamp > start (timestamps are ascending)."""
    lo, hi = 0, len(calls)
    while lo < hi:
        mid = (lo + hi) // 2
        if calls[mid] <= start:
            lo = mid + 1
        else:
            hi = mid
    return lo
