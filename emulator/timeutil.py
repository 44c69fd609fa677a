"""Time helpers: 100 ns ticks, the wire format of DateTimeOffset (§5.3) and Entra timestamps."""

from __future__ import annotations

import re
import time
from calendar import timegm

TICKS_PER_SECOND = 10_000_000
TICKS_PER_MINUTE = 60 * TICKS_PER_SECOND
TICKS_PER_HOUR = 60 * TICKS_PER_MINUTE
TICKS_PER_DAY = 24 * TICKS_PER_HOUR

_ISO_RE = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,7}))?)?"
    r"(Z|[+-]\d{2}:\d{2})\Z"
)


def to_ticks(seconds: float) -> int:
    """Unix seconds -> 100 ns ticks."""
    return round(seconds * TICKS_PER_SECOND)


_DAY_PREFIX: dict[int, str] = {}


def format_ticks(ticks: int) -> str:
    """Ticks -> `2025-02-17T09:14:22.5633333Z`: UTC, `Z`, 0-7 fraction digits (zeros trimmed)."""
    secs, frac = divmod(ticks, TICKS_PER_SECOND)
    day, in_day = divmod(secs, 86400)
    prefix = _DAY_PREFIX.get(day)
    if prefix is None:
        prefix = time.strftime("%Y-%m-%dT", time.gmtime(day * 86400))
        if len(_DAY_PREFIX) < 100_000:
            _DAY_PREFIX[day] = prefix
    hour, rest = divmod(in_day, 3600)
    minute, second = divmod(rest, 60)
    if frac:
        return f"{prefix}{hour:02d}:{minute:02d}:{second:02d}.{frac:07d}".rstrip("0") + "Z"
    return f"{prefix}{hour:02d}:{minute:02d}:{second:02d}Z"


def parse_iso(text: str) -> int:
    """ISO 8601 DateTimeOffset (<= 7 fraction digits, `Z` or `+hh:mm`) -> ticks.

    Raises ValueError for anything else (no offset, 8+ fraction digits, bad calendar values).
    """
    m = _ISO_RE.match(text)
    if not m:
        raise ValueError(f"not an ISO 8601 DateTimeOffset: {text!r}")
    year, month, day, hour, minute = (int(m.group(i)) for i in range(1, 6))
    second = int(m.group(6) or 0)
    if not (1 <= month <= 12 and 1 <= day <= 31 and hour < 24 and minute < 60 and second < 60):
        raise ValueError(f"date or time out of range: {text!r}")
    time.strptime(f"{year:04d}-{month:02d}-{day:02d}", "%Y-%m-%d")  # validates the day
    frac = int((m.group(7) or "0").ljust(7, "0"))
    secs = timegm((year, month, day, hour, minute, second, 0, 0, 0))
    zone = m.group(8)
    if zone != "Z":
        sign = 1 if zone[0] == "+" else -1
        secs -= sign * (int(zone[1:3]) * 3600 + int(zone[4:6]) * 60)
    return secs * TICKS_PER_SECOND + frac


def entra_timestamp(seconds: float) -> str:
    """Entra error timestamp `yyyy-MM-dd HH:mm:ssZ` (§3.3)."""
    return time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime(seconds))
