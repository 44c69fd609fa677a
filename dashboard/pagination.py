"""Keyset pagination of the incident list: opaque cursors and the "after this row" condition.

A cursor is URL-safe base64 of JSON ``[sort, *sort values, id]`` of the last row shown, e.g.
``["severity", 4, "2025-02-17T09:14:22.563333+00:00", 812]``. Pages are read with
``WHERE (keys) < (cursor values) ORDER BY keys DESC LIMIT n + 1`` (a row-value comparison, which
PostgreSQL answers from the sort's index and SQLite supports since 3.15): no OFFSET, no COUNT.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from django.db.models import F, Field, Func, QuerySet, Value
from django.db.models.lookups import LessThan

from incidents.models import Incident

# Sort name -> model fields, all descending, ending with the unique tiebreaker "id".
SORT_KEYS: dict[str, tuple[str, ...]] = {
    "created": ("created_time", "id"),
    "updated": ("last_update_time", "id"),
    "severity": ("severity_rank", "created_time", "id"),
}
_DATETIME_FIELDS = {"created_time", "last_update_time"}


class InvalidCursor(ValueError):
    """The ``after`` parameter is not a cursor this list issued (tampered, stale sort, junk)."""


@dataclass(frozen=True)
class Cursor:
    """Position after a row: ``values`` align with ``SORT_KEYS[sort]``."""

    sort: str
    values: tuple[Any, ...]

    def encode(self) -> str:
        """The opaque URL value."""
        plain = [
            self.sort,
            *[v.isoformat() if isinstance(v, datetime) else v for v in self.values],
        ]
        raw = json.dumps(plain, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def for_row(cls, sort: str, row: Incident) -> Cursor:
        """The cursor that continues after ``row``."""
        return cls(sort, tuple(getattr(row, name) for name in SORT_KEYS[sort]))


def decode_cursor(value: str, *, sort: str) -> Cursor:
    """Parse and validate a cursor issued for ``sort``. Raises ``InvalidCursor``."""
    if not value or len(value) > 200:
        raise InvalidCursor("empty or too long")
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
        plain = json.loads(raw)
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise InvalidCursor("not a cursor") from exc
    keys = SORT_KEYS.get(sort)
    if not isinstance(plain, list) or not keys or plain[:1] != [sort]:
        raise InvalidCursor("cursor of another sort")
    if len(plain) != len(keys) + 1:
        raise InvalidCursor("wrong length")
    values: list[Any] = []
    for name, item in zip(keys, plain[1:], strict=True):
        if name in _DATETIME_FIELDS:
            if not isinstance(item, str):
                raise InvalidCursor("bad timestamp")
            try:
                moment = datetime.fromisoformat(item)
            except ValueError as exc:
                raise InvalidCursor("bad timestamp") from exc
            if moment.tzinfo is None:
                raise InvalidCursor("naive timestamp")
            values.append(moment)
        else:
            if not isinstance(item, int) or isinstance(item, bool) or not -(2**62) < item < 2**62:
                raise InvalidCursor("bad integer")
            values.append(item)
    return Cursor(sort, tuple(values))


def order_by_fields(sort: str) -> list[str]:
    """``order_by`` arguments of ``sort`` (all descending)."""
    return [f"-{name}" for name in SORT_KEYS[sort]]


def after(queryset: QuerySet[Incident], cursor: Cursor) -> QuerySet[Incident]:
    """Rows strictly after ``cursor`` in its sort order: ``(k1, k2, id) < (v1, v2, v3)``.

    Built from F() and Value() so Django qualifies the columns with the right alias even
    inside subqueries (the per-customer merge nests this query).
    """
    keys = SORT_KEYS[cursor.sort]
    row = Func(*[F(name) for name in keys], template="(%(expressions)s)", output_field=Field())
    values = Func(
        *[
            Value(value, output_field=cast(Field, Incident._meta.get_field(name)))
            for name, value in zip(keys, cursor.values, strict=True)
        ],
        template="(%(expressions)s)",
        output_field=Field(),
    )
    return queryset.filter(LessThan(row, values))
