"""Bulk upsert of validated incident pages into the local copy (``Incident``, ``Alert``).

``upsert_incidents(customer=..., incidents=[ParsedIncident, ...])`` writes one page with a
handful of queries, whatever the page size (the sync calls it inside the page's transaction):

1. one SELECT of the stored ``(incident_id, pk, last_update_time)`` for the page's IDs;
2. only for incidents whose ``lastUpdateTime`` equals the stored one: one SELECT of their raw
   payloads and one of their alerts, to tell "unchanged" from "changed without a new time";
3. one ``INSERT .. ON CONFLICT (customer_id, incident_id) DO UPDATE .. RETURNING`` for new
   and changed incidents;
4. one ``INSERT .. ON CONFLICT (customer_id, alert_id) DO UPDATE`` for their alerts (an alert
   that moved to another incident, e.g. after a merge, follows it);
5. one DELETE of alerts that an updated incident no longer lists.

The reads and writes go through ``incidents.row_stores.row_store()``: on PostgreSQL the
look-ups pass the IDs as one array parameter, new rows are COPYed straight into their table and
changed ones go through a temp table and the same ``INSERT .. ON CONFLICT`` (several times
faster than the ORM for pages of large JSON payloads), and the page's transaction gets lz4 TOAST
compression and, with ``durable=False`` (the sync), asynchronous commit. Elsewhere (SQLite)
the ORM's ``bulk_create(update_conflicts=True)`` does the same.

Idempotent: applying the same page twice creates nothing and updates nothing the second time.
An incoming incident older than the stored one (a stale duplicate seen while paging) is
ignored, so the copy never goes back in time. Merged incidents (``status=Redirected``,
``redirectIncidentId``) are kept with the link to their target.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from incidents import pg_copy
from incidents.models import SEVERITY_RANK, Alert, Incident
from incidents.parsed import ParsedAlert, ParsedIncident
from incidents.row_stores import row_store
from tenants.models import Customer

# Inserted rows after which StatisticsKeeper re-analyzes the tables (PostgreSQL).
ANALYZE_EVERY = 10_000
# Inserted rows after which it analyzes them the first time: until the statistics know the
# tenant has rows, the planner answers "which of these IDs exist" by reading all of them
# through the customer_id index (7 ms a page at 10,000 rows instead of 0.1 ms).
ANALYZE_FIRST = 1_000


@dataclass
class UpsertResult:
    """What one page changed. ``unchanged`` counts incidents identical to the stored copy;
    ``stale`` incoming incidents older than the stored copy (ignored); ``max_last_update`` is
    the newest ``lastUpdateTime`` on the page (None for an empty page)."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    stale: int = 0
    alerts_upserted: int = 0
    alerts_deleted: int = 0
    max_last_update: datetime | None = None


class StatisticsKeeper:
    """Refreshes PostgreSQL's statistics of the incident tables after the first ``first``
    inserted rows, then every ``every`` (``incidents.pg_copy.analyze``), so a big backfill
    keeps fast query plans. Call ``record(result)`` after each page's transaction has
    committed."""

    def __init__(self, every: int = ANALYZE_EVERY, first: int = ANALYZE_FIRST) -> None:
        self.every = every
        self.first = min(first, every)
        self.pending = 0
        self.runs = 0

    def record(self, result: UpsertResult) -> None:
        """Count ``result.created``; run ``pg_copy.analyze`` on the incident tables when the
        threshold is reached (after commit: ANALYZE does not run inside a transaction)."""
        self.pending += result.created
        if self.pending >= (self.every if self.runs else self.first):
            self.pending = 0
            if pg_copy.analyze(
                [
                    (Incident, ("customer_id", "incident_id")),
                    (Alert, ("customer_id", "incident_id", "alert_id")),
                ]
            ):
                self.runs += 1


def incident_uri(*, tenant_id: str, incident_id: int) -> str:
    """The Defender portal link of an incident, as sent live (§5.3):
    ``{DEFENDER_PORTAL_URL}/incidents/{id}?tid={tenant}``."""
    base = settings.DEFENDER_PORTAL_URL.rstrip("/")
    return f"{base}/incidents/{incident_id}?tid={tenant_id}"


def _dedupe(incidents: Iterable[ParsedIncident]) -> dict[int, ParsedIncident]:
    """One entry per incident ID, keeping the newest (a row can appear twice while paging)."""
    by_id: dict[int, ParsedIncident] = {}
    for incident in incidents:
        current = by_id.get(incident.incident_id)
        if current is None or incident.last_update_time >= current.last_update_time:
            by_id[incident.incident_id] = incident
    return by_id


def _same_as_stored(
    incident: ParsedIncident, raw: dict[str, Any], alerts: dict[str, dict[str, Any]]
) -> bool:
    """True when the stored incident (raw) and its alerts equal the incoming payload."""
    if raw != incident.raw or len(alerts) != len(incident.alerts):
        return False
    for alert in incident.alerts:
        stored = alerts.get(alert.alert_id)
        if stored is None or stored["raw"] != alert.raw:
            return False
        if stored["devices"] != alert.devices or stored["entities"] != alert.entities:
            return False
    return True


def _incident_values(
    customer_id: int, tenant_id: str, incident: ParsedIncident, now: datetime
) -> dict[str, Any]:
    """Column values (by column name) of one incident row."""
    sources = incident.service_sources
    key = f"|{'|'.join(sources)}|" if sources else ""
    return {
        "customer_id": customer_id,
        "incident_id": incident.incident_id,
        "name": incident.name,
        "severity": incident.severity,
        "severity_rank": SEVERITY_RANK.get(incident.severity, 0),
        "status": incident.status,
        "classification": incident.classification,
        "determination": incident.determination,
        "assigned_to": incident.assigned_to,
        "created_time": incident.created_time,
        "last_update_time": incident.last_update_time,
        "redirect_incident_id": incident.redirect_incident_id,
        "tags": incident.tags,
        "comments": incident.comments,
        "alert_count": len(incident.alerts),
        "service_sources": sources,
        "service_sources_key": key[:500],
        "search_text": incident.search_text(),
        "incident_uri": incident.incident_uri
        or incident_uri(tenant_id=tenant_id, incident_id=incident.incident_id),
        "raw": incident.raw,
        "first_synced_at": now,
        "synced_at": now,
    }


def _alert_values(customer_id: int, incident_pk: int, alert: ParsedAlert) -> dict[str, Any]:
    """Column values (by column name) of one alert row."""
    return {
        "customer_id": customer_id,
        "incident_id": incident_pk,
        "alert_id": alert.alert_id,
        "title": alert.title,
        "description": alert.description,
        "severity": alert.severity,
        "status": alert.status,
        "category": alert.category,
        "service_source": alert.service_source,
        "detection_source": alert.detection_source,
        "classification": alert.classification,
        "determination": alert.determination,
        "assigned_to": alert.assigned_to,
        "mitre_techniques": alert.mitre_techniques,
        "creation_time": alert.creation_time,
        "last_updated_time": alert.last_updated_time,
        "first_activity": alert.first_activity,
        "last_activity": alert.last_activity,
        "resolved_time": alert.resolved_time,
        "devices": alert.devices,
        "entities": alert.entities,
        "raw": alert.raw,
    }


def upsert_incidents(
    *,
    customer: Customer,
    incidents: Sequence[ParsedIncident],
    synced_at: datetime | None = None,
    durable: bool = True,
) -> UpsertResult:
    """Insert or update one page of ``incidents`` (with alerts) for ``customer``.

    Runs in the caller's transaction when there is one (the sync's per-page transaction), else
    in its own. Unique keys: (customer, incident_id) and (customer, alert_id). Returns the
    counts; raises only database errors (the page is validated before it gets here).

    ``durable=False`` (PostgreSQL) commits the caller's whole transaction without waiting for
    the WAL flush (``pg_copy.set_local_write_options``): only for a caller whose transaction
    also stores its resume point, so a commit lost in a server crash is fetched again.
    """
    result = UpsertResult()
    if not incidents:
        return result
    now = synced_at or timezone.now()
    tenant_id = str(customer.tenant_id)
    by_id = _dedupe(incidents)
    store = row_store()
    result.max_last_update = max(i.last_update_time for i in by_id.values())

    with transaction.atomic(savepoint=False):
        stored = {
            incident_id: (pk, last_update)
            for incident_id, pk, last_update in store.stored_incidents(customer.pk, list(by_id))
        }
        to_write: list[ParsedIncident] = []
        same_time: dict[int, ParsedIncident] = {}  # stored pk -> incoming
        for incident_id, incident in by_id.items():
            existing = stored.get(incident_id)
            if existing is None:
                to_write.append(incident)
                result.created += 1
            elif incident.last_update_time > existing[1]:
                to_write.append(incident)
                result.updated += 1
            elif incident.last_update_time < existing[1]:
                result.stale += 1
            else:
                same_time[existing[0]] = incident
        if same_time:
            raws, alerts_by_incident = store.stored_payloads(list(same_time))
            for pk, incident in same_time.items():
                if _same_as_stored(incident, raws.get(pk, {}), alerts_by_incident[pk]):
                    result.unchanged += 1
                else:
                    to_write.append(incident)
                    result.updated += 1
        if not to_write:
            return result
        store.begin_write(durable=durable)

        rows = [_incident_values(customer.pk, tenant_id, i, now) for i in to_write]
        pks = store.write_incidents(
            [r for r in rows if r["incident_id"] not in stored],
            [r for r in rows if r["incident_id"] in stored],
        )
        # One row per alert ID: the newest copy, preferring an alert under a live incident
        # over one under a merged (Redirected) incident.
        alert_rows: dict[str, tuple[tuple[Any, ...], dict[str, Any]]] = {}
        for incident in to_write:
            incident_pk = pks[incident.incident_id]
            for alert in incident.alerts:
                rank = (
                    alert.last_updated_time or incident.last_update_time,
                    incident.status != "Redirected",
                )
                current = alert_rows.get(alert.alert_id)
                if current is None or rank >= current[0]:
                    values = _alert_values(customer.pk, incident_pk, alert)
                    alert_rows[alert.alert_id] = (rank, values)
        store.write_alerts(customer.pk, [entry[1] for entry in alert_rows.values()])
        result.alerts_upserted = len(alert_rows)
        updated_pks = [pks[i.incident_id] for i in to_write if i.incident_id in stored]
        if updated_pks:
            result.alerts_deleted = store.delete_unlisted_alerts(updated_pks, list(alert_rows))
    return result
