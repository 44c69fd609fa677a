"""Per-tenant incident store with serialisation caches (§5).

Records are kept newest first (createdTime desc, then incidentId desc — the §5.1 order). Serialised
incidents are cached per (tenant, id, style) and checked against the record's `version`; list
results are cached per (filter, store version). Callers hold the emulator lock for every call.
"""

from __future__ import annotations

import json
import random
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from .constants import INCIDENT_STATUSES, SEVERITIES
from .datagen import IncidentRecord, TenantPools, generate_records, new_record
from .deflate import Piece
from .payload import render_incident

Predicate = Callable[[IncidentRecord], bool]


class ByteLRU:
    """An LRU mapping bounded by the total size (bytes) of its values."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.size = 0
        self._data: OrderedDict[Any, tuple[Any, Any, int]] = OrderedDict()

    def get(self, key: Any, tag: Any) -> Any:
        """The cached value if present and stored with the same `tag`, else None."""
        hit = self._data.get(key)
        if hit is None or hit[0] != tag:
            return None
        self._data.move_to_end(key)
        return hit[1]

    def put(self, key: Any, tag: Any, value: Any, size: int | None = None) -> None:
        """Store `value` (size: len(value) unless given), evicting beyond `max_bytes`."""
        old = self._data.pop(key, None)
        if old is not None:
            self.size -= old[2]
        size = len(value) if size is None else size
        self._data[key] = (tag, value, size)
        self.size += size
        while self.size > self.max_bytes and self._data:
            _, (_, _, evicted) = self._data.popitem(last=False)
            self.size -= evicted

    def clear(self) -> None:
        """Drop everything."""
        self._data.clear()
        self.size = 0


def dumps(obj: Any) -> bytes:
    """Compact JSON bytes, as the service sends."""
    return json.dumps(obj, separators=(",", ":")).encode()


#: Wire field name -> record attribute for add_incident/update_incident/PATCH.
FIELD_MAP = {
    "status": "status",
    "assignedTo": "assigned_to",
    "classification": "classification",
    "determination": "determination",
    "tags": "tags",
    "severity": "severity",
    "incidentName": "name",
    "redirectIncidentId": "redirect_id",
    "alertCount": "alert_count",
}


class TenantStore:
    """Incidents of one tenant. `version` grows on every change (cache invalidation)."""

    def __init__(
        self,
        seed: int,
        tenant_id: str,
        pools: TenantPools,
        count: int,
        anchor: int,
        fragment_cache: ByteLRU,
    ) -> None:
        self.tenant_id = tenant_id
        self.pools = pools
        self.records = generate_records(seed, tenant_id, count, anchor, pools.assignees)
        self.by_id = {r.incident_id: r for r in self.records}
        self.next_id = max(self.by_id, default=1000) + 1
        self.version = 0
        self._fragments = fragment_cache
        self._filtered: OrderedDict[str, tuple[int, list[IncidentRecord]]] = OrderedDict()
        self.rng = random.Random(f"{seed}:store:{tenant_id}")

    def __len__(self) -> int:
        return len(self.records)

    def select(self, key: str, predicate: Predicate | None) -> list[IncidentRecord]:
        """Records matching `predicate` in §5.1 order; cached under `key` until a change."""
        hit = self._filtered.get(key)
        if hit is not None and hit[0] == self.version:
            self._filtered.move_to_end(key)
            return hit[1]
        rows = self.records if predicate is None else [r for r in self.records if predicate(r)]
        self._filtered[key] = (self.version, rows)
        while len(self._filtered) > 32:
            self._filtered.popitem(last=False)
        return rows

    def fragment(self, rec: IncidentRecord, live: bool, *, cache: bool = True) -> bytes:
        """Serialised incident JSON (cached per record version and style)."""
        key = (self.tenant_id, rec.incident_id, live)
        data: bytes | None = self._fragments.get(key, rec.version)
        if data is None:
            data = dumps(render_incident(rec, self.pools, live))
            if cache:
                self._fragments.put(key, rec.version, data)
        return data

    def piece(self, rec: IncidentRecord, live: bool) -> Piece:
        """The incident as a joinable deflate piece (cached; the plain text is not kept)."""
        key = (self.tenant_id, rec.incident_id, live, "z")
        piece: Piece | None = self._fragments.get(key, rec.version)
        if piece is None:
            piece = Piece(self.fragment(rec, live, cache=False))
            self._fragments.put(key, rec.version, piece, len(piece.data) + 64)
        return piece

    def render(self, rec: IncidentRecord, live: bool) -> dict[str, Any]:
        """The incident as a dict (fresh copy)."""
        result: dict[str, Any] = json.loads(self.fragment(rec, live))
        return result

    def _changed(self, rec: IncidentRecord, now: int) -> None:
        rec.updated = max(now, rec.created)
        rec.version += 1
        self.version += 1

    def add(self, now: int, overrides: dict[str, Any] | None = None) -> IncidentRecord:
        """A new incident created at `now` (ticks), placed first; wire-named `overrides`."""
        rec = new_record(self.rng, self.next_id, now)
        self.next_id += 1
        if overrides:
            self.apply(rec, overrides, now, touch=False)
        self.records.insert(0, rec)
        self.by_id[rec.incident_id] = rec
        self.version += 1
        return rec

    def apply(
        self, rec: IncidentRecord, fields: dict[str, Any], now: int, *, touch: bool = True
    ) -> None:
        """Apply wire-named fields (§6 plus incidentName/severity/alertCount/redirectIncidentId
        and `comment` as (text, author) or text). `""` assignedTo is stored as null. Sets
        lastUpdateTime = now. Raises ValueError for unknown names or bad enum values."""
        fields = dict(fields)
        comment = fields.pop("comment", None)
        for key, value in fields.items():
            attr = FIELD_MAP.get(key)
            if attr is None:
                raise ValueError(f"unknown incident field {key!r}")
            if key == "status" and value not in INCIDENT_STATUSES:
                raise ValueError(f"bad status {value!r}")
            if key == "severity" and value not in SEVERITIES:
                raise ValueError(f"bad severity {value!r}")
            if key == "assignedTo" and value == "":
                value = None
            if key == "tags":
                value = list(value or [])
            setattr(rec, attr, value)
        if comment is not None:
            text, author = comment if isinstance(comment, tuple) else (comment, "Automation")
            rec.comments = [*(rec.comments or []), (str(text), str(author), now)]
        if touch:
            self._changed(rec, now)
        else:
            rec.version += 1

    def add_alert(self, rec: IncidentRecord, now: int) -> None:
        """A new alert created at `now` on `rec`; a resolved incident becomes Active again."""
        rec.added_alerts = [*(rec.added_alerts or []), now]
        if rec.status == "Resolved":
            rec.status, rec.classification, rec.determination = "Active", "Unknown", "NotAvailable"
        self._changed(rec, now)

    def touch(self, rec: IncidentRecord, now: int) -> None:
        """Mark `rec` changed at `now`."""
        self._changed(rec, now)
