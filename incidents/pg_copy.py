"""PostgreSQL fast path of ``incidents.upsert``: COPY new rows straight into their table;
COPY changed rows into a temp table, then one upsert.

``bulk_create(update_conflicts=True)`` is portable, but on PostgreSQL Django sends each column
as one array parameter quoted on the client (psycopg's client-side binding), which for pages of
large JSON payloads costs more than the database work itself: about 900 incidents/s against
well over 5,000/s this way (``benchmarks/sync_upsert.py``). Here a page's rows are streamed with
``COPY .. FROM STDIN (FORMAT BINARY)`` (each JSON value encoded once, compactly; timestamps and
integers in binary, nothing escaped) into a session temp table, then

    INSERT INTO <table> (<columns>) SELECT <columns> FROM <temp>
    ON CONFLICT (<unique key>) DO UPDATE SET <column> = EXCLUDED.<column>, ...
    RETURNING <columns>

runs once: the same statement semantics as bulk_create(update_conflicts=True), in the caller's
transaction. The temp table (``ON COMMIT DELETE ROWS``) is created once per database session
and emptied before each use. Needs a session-level connection (not a transaction-pooling
PgBouncer). Rows known to be new (a backfill) skip the temp table: ``insert_new`` COPYs them
into the table itself, which is about a third faster again.

``analyze`` refreshes the planner's statistics during a large backfill: a tenant whose rows
were not in the statistics looks tiny to the planner, which then answers "which of these 100
incident IDs exist for customer X" by scanning all of X's rows through the customer_id index,
making each page slower as the backfill grows (measured: 16 ms a page at 20,000 rows). Autovacuum
fixes that only after 10 % of the whole table changed.

``select_existing`` looks keys up with one array parameter; ``set_local_write_options`` sets
lz4 TOAST compression (and, for the sync, asynchronous commit) for the page's transaction.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from django.db import OperationalError, connection, models, transaction
from psycopg import postgres
from psycopg.adapt import Dumper
from psycopg.pq import Format

from incidents.models import Alert, Incident

# Compact JSON for jsonb columns (what Django's JSONField would store, minus spaces), for values
# orjson cannot encode: integers beyond 64 bits, which json.loads keeps exact. Payloads come
# from json.loads, so they cannot be circular: skip that check.
_dumps_exact = json.JSONEncoder(separators=(",", ":"), check_circular=False).encode
# Django's db_type names that psycopg does not know by that name.
_TYPE_ALIASES = {"timestamp with time zone": "timestamptz"}


@dataclass(frozen=True)
class _Plan:
    """How to COPY a model's rows: non-pk columns, which are JSON, their PostgreSQL types."""

    columns: list[str]
    json_columns: frozenset[str]
    types: list[str]

    def values(self, row: dict[str, Any]) -> list[Any]:
        """A row dict as COPY values in ``columns`` order, JSON columns encoded once (UTF-8
        bytes, ``encode_json``)."""
        json_columns = self.json_columns
        return [encode_json(row[c]) if c in json_columns else row[c] for c in self.columns]


def encode_json(value: Any) -> bytes:
    """``value`` (from ``json.loads``) as compact UTF-8 JSON for a jsonb column.

    orjson (several times faster than the standard encoder; JSON encoding was a sixth of the
    sync's Python time); values it refuses, such as integers beyond 64 bits, which
    ``json.loads`` keeps exact, go through the standard encoder so nothing is rounded.
    """
    try:
        return orjson.dumps(value)
    except TypeError:
        return _dumps_exact(value).encode()


@functools.cache
def _plan(model: type[models.Model]) -> _Plan:
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    types = []
    for field in fields:
        db_type = str(field.db_type(connection)).split("(")[0]  # varchar(500) -> varchar
        types.append(_TYPE_ALIASES.get(db_type, db_type))
    return _Plan(
        columns=[f.column for f in fields],
        json_columns=frozenset(f.column for f in fields if isinstance(f, models.JSONField)),
        types=types,
    )


class _EncodedJson(bytes):
    """Key under which ``_JsonbTextDumper`` is registered (COPY with ``set_types`` picks the
    dumper by type OID, so the ``bytes`` values of jsonb columns reach it)."""


class _JsonbTextDumper(Dumper):
    """A jsonb value for binary COPY from UTF-8 JSON already encoded (``encode_json``): the
    jsonb binary format is a version byte (1) and the text, so nothing is encoded twice."""

    format = Format.BINARY
    oid = postgres.types["jsonb"].oid

    def dump(self, obj: Any) -> bytes:
        return b"\x01" + obj


def _copy(cursor: Any, target: str, types: list[str], rows: Iterable[list[Any]]) -> None:
    """``COPY <target> FROM STDIN`` in binary format: ``rows`` are value lists of ``types``.

    Binary rather than text: the server skips parsing text timestamps and escaping, and psycopg
    writes datetimes and integers natively (about 10 % less CPU on each side for a backfill).
    """
    raw = cursor.cursor  # the psycopg cursor under Django's wrapper
    raw.adapters.register_dumper(_EncodedJson, _JsonbTextDumper)  # this cursor only
    with raw.copy(f"COPY {target} FROM STDIN (FORMAT BINARY)") as copy:
        copy.set_types(types)
        for values in rows:
            copy.write_row(values)


def select_existing(
    model: type[models.Model],
    columns: Sequence[str],
    *,
    customer_id: int,
    key: str,
    values: Sequence[Any],
    array_type: str,
) -> list[tuple[Any, ...]]:
    """``SELECT <columns> FROM <table> WHERE customer_id = %s AND <key> = ANY(%s::<array_type>[])``:
    the stored rows of one customer among ``values`` of its unique ``key``.

    One array parameter instead of the ORM's ``IN (%s, %s, ...)``: psycopg parses a query's
    placeholders on every call once it is too long to cache, which for a page's 100-300 IDs
    cost a tenth of the sync's Python time.
    """
    if not values:
        return []
    table = model._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {', '.join(columns)} FROM {table} "  # noqa: S608 - names from the model
            f"WHERE customer_id = %s AND {key} = ANY(%s::{array_type}[])",
            [customer_id, list(values)],
        )
        return list(cursor.fetchall())


def stored_payloads(
    pks: list[int],
) -> tuple[dict[int, Any], dict[int, dict[str, dict[str, Any]]]]:
    """``incidents.upsert``'s comparison data, two queries: the stored ``raw`` of incidents
    ``pks``, and their alerts' ``raw``, ``devices`` and ``entities`` by incident pk and alert
    ID (JSON decoded: Django reads jsonb as text)."""
    incident_table, alert_table = Incident._meta.db_table, Alert._meta.db_table
    loads = json.loads
    alerts: dict[int, dict[str, dict[str, Any]]] = {pk: {} for pk in pks}
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT id, raw FROM {incident_table} WHERE id = ANY(%s::bigint[])",  # noqa: S608
            [pks],
        )
        raws = {pk: loads(raw) for pk, raw in cursor.fetchall()}
        cursor.execute(
            "SELECT incident_id, alert_id, raw, devices, entities "  # noqa: S608 - model names
            f"FROM {alert_table} WHERE incident_id = ANY(%s::bigint[])",
            [pks],
        )
        for incident_pk, alert_id, raw, devices, entities in cursor.fetchall():
            alerts[incident_pk][alert_id] = {
                "raw": loads(raw),
                "devices": loads(devices),
                "entities": loads(entities),
            }
    return raws, alerts


def delete_unlisted_alerts(incident_pks: list[int], keep: list[str]) -> int:
    """Delete the alerts of ``incident_pks`` whose alert ID is not in ``keep`` (one statement);
    returns how many."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"DELETE FROM {Alert._meta.db_table} "  # noqa: S608 - the model's table name
            "WHERE incident_id = ANY(%s::bigint[]) AND NOT (alert_id = ANY(%s::text[]))",
            [incident_pks, keep],
        )
        return int(cursor.rowcount)


def upsert_rows(
    model: type[models.Model],
    rows: Sequence[dict[str, Any]],
    *,
    unique: Sequence[str],
    keep: Sequence[str] = (),
    returning: Sequence[str] = (),
) -> list[tuple[Any, ...]]:
    """Insert or update ``rows`` (dicts keyed by column name, every non-pk column present) of
    ``model`` in one statement; on a conflict on ``unique`` every column but ``unique`` and
    ``keep`` is overwritten. Returns the ``returning`` columns of every row written.
    """
    if not rows:
        return []
    plan = _plan(model)
    columns = plan.columns
    table = model._meta.db_table
    temp = f"upsert_{table}"
    column_list = ", ".join(columns)
    unchanged = set(unique) | set(keep)
    updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in columns if c not in unchanged)
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TEMP TABLE IF NOT EXISTS {temp} ON COMMIT DELETE ROWS AS "  # noqa: S608
            f"SELECT {column_list} FROM {table} WITH NO DATA"
        )
        cursor.execute(f"DELETE FROM {temp}")  # noqa: S608 - rows of an earlier page, same txn
        _copy(cursor, f"{temp} ({column_list})", plan.types, map(plan.values, rows))
        sql = (
            f"INSERT INTO {table} ({column_list}) SELECT {column_list} FROM {temp} "  # noqa: S608
            f"ON CONFLICT ({', '.join(unique)}) DO UPDATE SET {updates}"
        )
        if returning:
            sql += f" RETURNING {', '.join(returning)}"
        cursor.execute(sql)
        return list(cursor.fetchall()) if returning else []


def insert_new(
    model: type[models.Model], rows: Sequence[dict[str, Any]], *, returning_ids: bool = False
) -> list[int]:
    """COPY ``rows`` (dicts keyed by column name; known not to be stored yet) straight into
    ``model``'s table. With ``returning_ids``, primary keys are first drawn from the table's
    sequence and returned in row order (one query); otherwise the column default assigns them.

    No conflict handling: a row whose unique key exists fails the whole statement (and the
    caller's transaction) with IntegrityError. The sync only calls this for keys its page
    transaction just found missing, under the per-tenant lock (a single writer per tenant).
    """
    if not rows:
        return []
    plan = _plan(model)
    table = model._meta.db_table
    pk_column = model._meta.pk.column  # type: ignore[union-attr]
    with connection.cursor() as cursor:
        if not returning_ids:
            target = f"{table} ({', '.join(plan.columns)})"
            _copy(cursor, target, plan.types, map(plan.values, rows))
            return []
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
            [table, pk_column, len(rows)],
        )
        ids = [int(r[0]) for r in cursor.fetchall()]
        target = f"{table} ({pk_column}, {', '.join(plan.columns)})"
        values = plan.values
        _copy(
            cursor,
            target,
            ["int8", *plan.types],
            ([pk, *values(row)] for pk, row in zip(ids, rows, strict=True)),
        )
    return ids


# Per database server (host, port, database name): whether it can compress TOAST with lz4.
_LZ4: dict[tuple[str, ...], bool] = {}


def has_lz4() -> bool:
    """Whether the PostgreSQL server was built with lz4 (asked once per database)."""
    key = tuple(str(connection.settings_dict.get(k) or "") for k in ("HOST", "PORT", "NAME"))
    if key not in _LZ4:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT 'lz4' = ANY(enumvals) FROM pg_settings "
                "WHERE name = 'default_toast_compression'"
            )
            row = cursor.fetchone()
            _LZ4[key] = bool(row and row[0])
    return _LZ4[key]


def set_local_write_options(*, synchronous_commit: bool = True) -> None:
    """Settings for the rest of the caller's transaction (PostgreSQL; elsewhere a no-op), in
    one statement:

    * ``default_toast_compression = lz4`` when the server has it: alert rows are about 2.5 kB,
      over the 2 kB TOAST threshold, so PostgreSQL compresses their largest JSON values; pglz
      took 10 % of the backend's CPU in a backfill, lz4 a fraction of that. Only applies to
      columns without an explicit ``COMPRESSION`` and only to values written now; reading is
      transparent (PostgreSQL 14+ reads both).
    * with ``synchronous_commit=False``, ``synchronous_commit = off``: COMMIT returns before
      the WAL is flushed. A server crash can then lose the last few hundred milliseconds of
      committed transactions, each one whole (never half of one); only callers whose
      transaction also records where to resume may ask for it (see ``sync.paging``).

    Must run inside a transaction (``SET LOCAL`` outside one only warns and does nothing).
    """
    if connection.vendor != "postgresql":
        return
    settings = []
    if has_lz4():
        settings.append("set_config('default_toast_compression', 'lz4', true)")
    if not synchronous_commit:
        settings.append("set_config('synchronous_commit', 'off', true)")
    if settings:
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT {', '.join(settings)}")


def analyze(
    targets: Sequence[tuple[type[models.Model], Sequence[str]]], *, lock_timeout_ms: int = 2000
) -> bool:
    """``ANALYZE table (columns)`` for each ``(model, columns)`` (PostgreSQL; elsewhere a
    no-op returning False). Only the key columns the sync filters on: analyzing the large JSON
    columns would cost far more (0.8 s instead of tens of ms at 20,000 incidents).

    Runs in its own short transaction with a lock timeout, so a concurrent (auto)vacuum holding
    the table's lock never stalls the caller: on timeout nothing happens and False is returned.
    Not inside another transaction (returns False).
    """
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        return False
    tables = ", ".join(
        f"{model._meta.db_table} ({', '.join(columns)})" for model, columns in targets
    )
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(f"SET LOCAL lock_timeout = {int(lock_timeout_ms)}")
            cursor.execute(f"ANALYZE {tables}")
    except OperationalError:
        return False
    return True
