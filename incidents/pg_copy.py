"""PostgreSQL fast path of ``incidents.upsert``: COPY new rows straight into their table;
COPY changed rows into a temp table, then one upsert.

``bulk_create(update_conflicts=True)`` is portable, but on PostgreSQL Django sends each column
as one array parameter quoted on the client (psycopg's client-side binding), which for pages of
large JSON payloads costs more than the database work itself: about 900 incidents/s against
well over 5,000/s this way (``benchmarks/sync_upsert.py``). Here a page's rows are streamed with
``COPY .. FROM STDIN`` (text format, psycopg escapes values) into a session temp table, then

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
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from django.db import OperationalError, connection, models, transaction

# Compact JSON text for jsonb columns (what Django's JSONField would store, minus spaces).
_dumps = json.JSONEncoder(separators=(",", ":")).encode


def _columns(model: type[models.Model]) -> tuple[list[str], set[str]]:
    """(columns without the primary key, JSON columns) of ``model``."""
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    columns = [f.column for f in fields]
    json_columns = {f.column for f in fields if isinstance(f, models.JSONField)}
    return columns, json_columns


def _row_values(columns: list[str], json_columns: set[str]) -> Any:
    """A function turning a row dict into COPY values in ``columns`` order."""
    plan = [(c, c in json_columns) for c in columns]

    def values(row: dict[str, Any]) -> list[Any]:
        return [_dumps(row[c]) if is_json else row[c] for c, is_json in plan]

    return values


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
    columns, json_columns = _columns(model)
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
        dumps = json.dumps
        with cursor.copy(f"COPY {temp} ({column_list}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row([dumps(row[c]) if c in json_columns else row[c] for c in columns])
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
    columns, json_columns = _columns(model)
    table = model._meta.db_table
    pk_column = model._meta.pk.column  # type: ignore[union-attr]
    ids: list[int] = []
    values = _row_values(columns, json_columns)
    with connection.cursor() as cursor:
        if returning_ids:
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
                [table, pk_column, len(rows)],
            )
            ids = [int(r[0]) for r in cursor.fetchall()]
            copy_columns = f"{pk_column}, {', '.join(columns)}"
        else:
            copy_columns = ", ".join(columns)
        with cursor.copy(f"COPY {table} ({copy_columns}) FROM STDIN") as copy:
            if returning_ids:
                for pk, row in zip(ids, rows, strict=True):
                    copy.write_row([pk, *values(row)])
            else:
                for row in rows:
                    copy.write_row(values(row))
    return ids


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
