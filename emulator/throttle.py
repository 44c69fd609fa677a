"""Sliding-window rate limits keyed by (tid, appid, endpoint) (§5.8 emulator choice)."""

from __future__ import annotations

import math
import threading
from collections import deque

WINDOWS = (60.0, 3600.0)


class Throttle:
    """Counts accepted calls in 60 s and 3,600 s sliding windows per key.

    `check(key, limits, now)` returns None when the call is allowed (and records it) or the
    Retry-After value in whole seconds (>= 1): the time until the oldest call leaves the window
    that is full. Rejected calls are not recorded. A limit of 0 disables that window.
    """

    def __init__(self) -> None:
        self._calls: dict[tuple[str, ...], deque[float]] = {}
        self._lock = threading.Lock()

    def check(self, key: tuple[str, ...], limits: tuple[int, int], now: float) -> int | None:
        """Record a call at `now` (seconds) unless a window is full; see the class docstring."""
        with self._lock:
            calls = self._calls.setdefault(key, deque())
            horizon = now - max(
                (w for w, limit in zip(WINDOWS, limits, strict=True) if limit), default=0.0
            )
            while calls and calls[0] <= horizon:
                calls.popleft()
            retry = 0.0
            for window, limit in zip(WINDOWS, limits, strict=True):
                if not limit:
                    continue
                start = now - window
                inside = len(calls) - _first_after(calls, start)
                if inside >= limit:
                    oldest = calls[len(calls) - limit]
                    retry = max(retry, oldest + window - now)
            if retry > 0:
                return max(1, math.ceil(retry))
            if any(limits):
                calls.append(now)
            return None

    def reset(self) -> None:
        """Forget every window."""
        with self._lock:
            self._calls.clear()


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
