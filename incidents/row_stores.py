"""Where ``incidents.upsert`` reads and writes rows: PostgreSQL's fast path or the portable ORM.

``row_store()`` picks one for the default database connection:

* ``PostgresRowStore`` (``incidents.pg_copy``): look-ups with one array parameter, COPY of new
  rows straight into their table, changed rows through a temp table and one ``INSERT .. ON
  CONFLICT``, and the page's write options (lz4 TOAST compression, asynchronous commit);
* ``OrmRowStore``: the same reads and writes with the ORM (``bulk_create(update_conflicts=True)``),
  for SQLite (development, the demo without PostgreSQL) and any other database.

Both give the same results; the rules (what is new, changed, unchanged or stale, which alert
copy wins) stay in ``incidents.upsert``. Rows are dicts keyed by column name with every non-pk
column present.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from django.db import connection

from incidents import pg_copy
from incidents.models import Alert, Incident

# Stored JSON of an incident's alerts, by alert ID: {"raw": .., "devices": .., "entities": ..}.
AlertPayloads = dict[str, dict[str, Any]]


class RowStore(Protocol):
    """Reads and writes of one page's incident and alert rows, in the caller's transaction."""

    def stored_incidents(self, customer_id: int, ids: list[int]) -> list[tuple[int, int, datetime]]:
        """``(incident_id, pk, last_update_time)`` of the stored incidents among ``ids``."""
        ...

    def stored_payloads(self, pks: list[int]) -> tuple[dict[int, Any], dict[int, AlertPayloads]]:
        """The stored ``raw`` of incidents ``pks``, and their alerts' JSON by incident pk."""
        ...

    def begin_write(self, *, durable: bool) -> None:
        """Called once before a page's first write (``durable``: see ``upsert_incidents``)."""
        ...

    def write_incidents(
        self, new: list[dict[str, Any]], changed: list[dict[str, Any]]
    ) -> dict[int, int]:
        """Insert ``new`` rows, overwrite ``changed`` ones; ``{incident_id: pk}`` of all."""
        ...

    def write_alerts(self, customer_id: int, rows: list[dict[str, Any]]) -> None:
        """Insert new alert rows, overwrite stored ones (by alert ID)."""
        ...

    def delete_unlisted_alerts(self, incident_pks: list[int], keep: list[str]) -> int:
        """Delete the alerts of ``incident_pks`` whose ID is not in ``keep``; how many."""
        ...


class PostgresRowStore:
    """``RowStore`` on PostgreSQL, through ``incidents.pg_copy``."""

    def stored_incidents(self, customer_id: int, ids: list[int]) -> list[tuple[int, int, datetime]]:
        """``RowStore.stored_incidents`` (PostgreSQL)."""
        return pg_copy.select_existing(  # type: ignore[return-value]
            Incident,
            ["incident_id", "id", "last_update_time"],
            customer_id=customer_id,
            key="incident_id",
            values=ids,
            array_type="bigint",
        )

    def stored_payloads(self, pks: list[int]) -> tuple[dict[int, Any], dict[int, AlertPayloads]]:
        """``RowStore.stored_payloads`` (PostgreSQL)."""
        return pg_copy.stored_payloads(pks)

    def begin_write(self, *, durable: bool) -> None:
        """``RowStore.begin_write`` (PostgreSQL)."""
        pg_copy.set_local_write_options(synchronous_commit=durable)

    def write_incidents(
        self, new: list[dict[str, Any]], changed: list[dict[str, Any]]
    ) -> dict[int, int]:
        """``RowStore.write_incidents`` (PostgreSQL)."""
        pks = dict(
            zip(
                [r["incident_id"] for r in new],
                pg_copy.insert_new(Incident, new, returning_ids=True),
                strict=True,
            )
        )
        returned = pg_copy.upsert_rows(
            Incident,
            changed,
            unique=("customer_id", "incident_id"),
            keep=("first_synced_at",),
            returning=("incident_id", "id"),
        )
        pks.update({incident_id: pk for incident_id, pk in returned})
        return pks

    def write_alerts(self, customer_id: int, rows: list[dict[str, Any]]) -> None:
        """``RowStore.write_alerts`` (PostgreSQL)."""
        if not rows:
            return
        stored = {
            alert_id
            for (alert_id,) in pg_copy.select_existing(
                Alert,
                ["alert_id"],
                customer_id=customer_id,
                key="alert_id",
                values=[r["alert_id"] for r in rows],
                array_type="text",
            )
        }
        pg_copy.insert_new(Alert, [r for r in rows if r["alert_id"] not in stored])
        pg_copy.upsert_rows(
            Alert, [r for r in rows if r["alert_id"] in stored], unique=("customer_id", "alert_id")
        )

    def delete_unlisted_alerts(self, incident_pks: list[int], keep: list[str]) -> int:
        """``RowStore.delete_unlisted_alerts`` (PostgreSQL)."""
        return pg_copy.delete_unlisted_alerts(incident_pks, keep)


def _update_fields(model: type[Incident] | type[Alert], *, unchanged: set[str]) -> list[str]:
    """Fields an upsert overwrites on a conflict (bulk_create): all but the pk and ``unchanged``."""
    return [
        f.name for f in model._meta.concrete_fields if not f.primary_key and f.name not in unchanged
    ]


class OrmRowStore:
    """``RowStore`` with the ORM (SQLite and other databases; Django splits ``bulk_create``
    into batches of 999 parameters on SQLite)."""

    incident_update_fields = _update_fields(
        Incident, unchanged={"customer", "incident_id", "first_synced_at"}
    )
    alert_update_fields = _update_fields(Alert, unchanged={"customer", "alert_id"})

    def stored_incidents(self, customer_id: int, ids: list[int]) -> list[tuple[int, int, datetime]]:
        """``RowStore.stored_incidents`` (ORM)."""
        return list(
            Incident.objects.filter(customer_id=customer_id, incident_id__in=ids).values_list(
                "incident_id", "pk", "last_update_time"
            )
        )

    def stored_payloads(self, pks: list[int]) -> tuple[dict[int, Any], dict[int, AlertPayloads]]:
        """``RowStore.stored_payloads`` (ORM)."""
        alerts: dict[int, AlertPayloads] = {pk: {} for pk in pks}
        raws = dict(Incident.objects.filter(pk__in=pks).values_list("pk", "raw"))
        for stored in Alert.objects.filter(incident_id__in=pks).values(
            "incident_id", "alert_id", "raw", "devices", "entities"
        ):
            alerts[stored["incident_id"]][stored["alert_id"]] = dict(stored)
        return raws, alerts

    def begin_write(self, *, durable: bool) -> None:
        """Nothing to set outside PostgreSQL."""

    def write_incidents(
        self, new: list[dict[str, Any]], changed: list[dict[str, Any]]
    ) -> dict[int, int]:
        """``RowStore.write_incidents`` (ORM)."""
        rows = new + changed
        if not rows:
            return {}
        objects = [Incident(**row) for row in rows]
        Incident.objects.bulk_create(
            objects,
            update_conflicts=True,
            unique_fields=["customer", "incident_id"],
            update_fields=self.incident_update_fields,
        )
        if all(obj.pk is not None for obj in objects):
            return {obj.incident_id: obj.pk for obj in objects}
        return dict(  # backends that do not return IDs from an upsert
            Incident.objects.filter(
                customer_id=rows[0]["customer_id"],
                incident_id__in=[r["incident_id"] for r in rows],
            ).values_list("incident_id", "pk")
        )

    def write_alerts(self, customer_id: int, rows: list[dict[str, Any]]) -> None:
        """``RowStore.write_alerts`` (ORM)."""
        if not rows:
            return
        Alert.objects.bulk_create(
            [Alert(**row) for row in rows],
            update_conflicts=True,
            unique_fields=["customer", "alert_id"],
            update_fields=self.alert_update_fields,
        )

    def delete_unlisted_alerts(self, incident_pks: list[int], keep: list[str]) -> int:
        """``RowStore.delete_unlisted_alerts`` (ORM)."""
        deleted, _ = (
            Alert.objects.filter(incident_id__in=incident_pks).exclude(alert_id__in=keep).delete()
        )
        return deleted


_POSTGRES = PostgresRowStore()
_ORM = OrmRowStore()


def row_store() -> RowStore:
    """The row store for the default database connection (chosen by its vendor)."""
    return _POSTGRES if connection.vendor == "postgresql" else _ORM
