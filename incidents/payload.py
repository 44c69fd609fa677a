"""Typed reading of one JSON payload, with errors that name the bad value's path.

``Reader(obj, "value[3]")`` gives typed access to a JSON object (``integer``, ``text``,
``moment``, ``enum``, ``array``, ``objects``); a missing required key or a value of the wrong
JSON type raises ``PayloadError`` naming the JSON path (``value[3].alerts[0].severity``). Also
the DateTimeOffset parsing and formatting of the Defender API (contract §5.1, §5.3).
"""

from __future__ import annotations

import functools
import logging
import re
from datetime import UTC, datetime
from typing import Any

from microsoft.errors import BadResponseError

logger = logging.getLogger(__name__)

# The range of the BigIntegerField columns integers are stored in.
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1

_DATETIME_RE = re.compile(
    r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})?\Z"
)


class PayloadError(BadResponseError):
    """A page failed validation. ``path`` locates the bad value (``value[3].alerts[0].status``);
    ``code`` is ``bad_payload``, ``wrong_tenant`` or ``oversized_page``."""

    def __init__(self, message: str, *, path: str = "", code: str = "bad_payload") -> None:
        super().__init__(f"{path}: {message}" if path else message, code=code)
        self.path = path


@functools.lru_cache(maxsize=4096)
def parse_datetime(value: str) -> datetime:
    """Parse a DateTimeOffset (``2025-02-17T09:14:22.5633333Z``, §5.3) to an aware UTC datetime.

    Fraction digits beyond microseconds are truncated (never rounded up, so a watermark built
    from the result is never later than the original). No zone means UTC. Raises ValueError.
    Cached: a page repeats times (an alert's creation and update time, its incident's update
    time); datetimes are immutable, and errors are not cached.
    """
    if not _DATETIME_RE.match(value):
        raise ValueError(f"not an ISO 8601 date-time: {value!r}")
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def format_filter_datetime(value: datetime) -> str:
    """A datetime as the $filter wants it: unquoted ISO 8601, 7 fraction digits, ``Z`` (§5.1)."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f") + "0Z"


class Reader:
    """Typed access to one JSON object, raising PayloadError with the path of the bad value."""

    __slots__ = ("obj", "path", "strict_enums")

    def __init__(self, obj: Any, path: str, *, strict_enums: bool = True) -> None:
        if not isinstance(obj, dict):
            raise PayloadError(f"expected an object, got {type_name(obj)}", path=path)
        self.obj: dict[str, Any] = obj
        self.path = path
        self.strict_enums = strict_enums

    def _get(self, key: str, required: bool) -> Any:
        value = self.obj.get(key)
        if value is None and required:
            what = "is null" if key in self.obj else "is missing"
            raise PayloadError(f"required field {what}", path=f"{self.path}.{key}")
        return value

    def integer(self, key: str, *, required: bool = False) -> int | None:
        """``obj[key]`` as an int (None when absent or null and not ``required``).

        Raises PayloadError for a missing required key, a non-integer (booleans included) or
        a value outside the signed 64-bit range of the columns it goes into (the decoder keeps
        larger integers exact, and the database would refuse them)."""
        value = self._get(key, required)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            raise self._wrong(key, "an integer", value)
        if not INT64_MIN <= value <= INT64_MAX:
            raise PayloadError(
                "out of range: not a signed 64-bit integer", path=f"{self.path}.{key}"
            )
        return value

    def text(
        self, key: str, *, required: bool = False, max_length: int = 0, truncate: bool = True
    ) -> str:
        """``obj[key]`` as a string ("" when absent or null and not ``required``), cut to
        ``max_length`` characters (0: no limit), or, with ``truncate=False``, refused when
        longer. Raises PayloadError for a missing required key or a non-string."""
        value = self._get(key, required)
        if value is None:
            return ""
        if not isinstance(value, str):
            raise self._wrong(key, "a string", value)
        if max_length and len(value) > max_length:
            if not truncate:
                raise PayloadError(
                    f"longer than {max_length} characters", path=f"{self.path}.{key}"
                )
            return value[:max_length]
        return value

    def moment(self, key: str, *, required: bool = False) -> datetime | None:
        """``obj[key]`` as an aware UTC datetime (``parse_datetime``; None when absent or null
        and not ``required``). Raises PayloadError for a missing required key, a non-string or
        a string that is not an ISO 8601 date-time."""
        value = self._get(key, required)
        if value is None:
            return None
        if not isinstance(value, str):
            raise self._wrong(key, "an ISO 8601 date-time string", value)
        try:
            return parse_datetime(value)
        except ValueError:
            raise PayloadError(
                f"not an ISO 8601 date-time: {value[:40]!r}", path=f"{self.path}.{key}"
            ) from None

    def enum(
        self, key: str, allowed: dict[str, str], *, required: bool = False, max_length: int = 20
    ) -> str:
        """``obj[key]`` matched case-insensitively against ``allowed`` ({lowercase: canonical
        spelling}) and returned in its canonical spelling ("" when absent or null and not
        ``required``). Raises PayloadError for a missing required key, a non-string or, when
        ``strict_enums``, a value outside ``allowed``; otherwise such a value is returned as
        sent (cut to ``max_length``, its column's size) and logged."""
        value = self._get(key, required)
        if value is None:
            return ""
        if not isinstance(value, str):
            raise self._wrong(key, "a string", value)
        canonical = allowed.get(value.lower())
        if canonical is None and not self.strict_enums:
            logger.warning("payload unknown_enum path=%s.%s value=%r", self.path, key, value[:40])
            return value[:max_length]
        if canonical is None:
            raise PayloadError(
                f"unknown value {value[:40]!r} (expected one of {', '.join(allowed.values())})",
                path=f"{self.path}.{key}",
            )
        return canonical

    def array(self, key: str) -> list[Any]:
        """``obj[key]`` as a list ([] when absent or null). Raises PayloadError otherwise."""
        value = self.obj.get(key)
        if value is None:
            return []
        if not isinstance(value, list):
            raise self._wrong(key, "an array", value)
        return value

    def objects(self, key: str) -> list[dict[str, Any]]:
        """``obj[key]`` as a list of objects ([] when absent or null). Raises PayloadError,
        naming the index, for an item that is not an object."""
        items = self.array(key)
        for index, item in enumerate(items):
            if not isinstance(item, dict):
                raise PayloadError(
                    f"expected an object, got {type_name(item)}",
                    path=f"{self.path}.{key}[{index}]",
                )
        return items

    def _wrong(self, key: str, expected: str, value: Any) -> PayloadError:
        return PayloadError(
            f"expected {expected}, got {type_name(value)}", path=f"{self.path}.{key}"
        )


def type_name(value: Any) -> str:
    """The JSON type of ``value`` in words, for error messages ("an integer", "null")."""
    if value is None:
        return "null"
    return {
        bool: "a boolean",
        int: "an integer",
        float: "a number",
        str: "a string",
        list: "an array",
        dict: "an object",
    }.get(type(value), type(value).__name__)
