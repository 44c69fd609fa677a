"""Benchmark of the dashboard's server time on PostgreSQL at 1,000 tenants and 1,000,000 incidents.

Usage (from the repository root, PostgreSQL reachable):

    python benchmarks/dashboard_queries.py                 # build the data set once, then measure
    python benchmarks/dashboard_queries.py --iterations 50 --rebuild

Database: BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/portal_bench_dashboard),
created if missing and reused on later runs (the data set is rebuilt only with ``--rebuild`` or
when its size differs). Data is generated in SQL with generate_series (about a minute).

Measured: server time of full requests through Django's test client (middleware, session,
queries, template rendering; no network), as p50 / p95 / max over ``--iterations`` runs after a
warm-up, for the incident list (many filter combinations; first page and pages far down via the
cursor), the summary partial and the tenant overview (100 customers a page; first and last
page), as an administrator (all customers) and as an analyst (10 customers). Targets (issue 6):
list p95 <= 100 ms; summary and tenant overview p95 <= 200 ms. Prints a table; exits 1 if a
target is missed.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/portal_bench_dashboard"
TENANTS = 1000
INCIDENTS = 1_000_000


def _prepare_environment() -> str:
    url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL)
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "partner_portal.settings.development")
    os.environ["DEBUG"] = "false"  # no query log in memory
    os.environ.pop("REDIS_URL", None)
    return url


def _ensure_database(url: str) -> None:
    """CREATE DATABASE if it does not exist (connects to the server's "postgres" database)."""
    import psycopg
    from psycopg import sql

    dbname = url.rsplit("/", 1)[1].split("?")[0]
    admin_url = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [dbname]).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname)))
            print(f"created database {dbname}")


GENERATE_SQL = [
    "TRUNCATE incidents_alert, incidents_incident, sync_tenantsyncstate, sync_syncrun, "
    "tenants_customer_assigned_users, tenants_customer RESTART IDENTITY CASCADE",
    # 1,000,000 incidents over 180 days; tenant sizes skewed (a few large tenants).
    """
    INSERT INTO incidents_incident (customer_id, incident_id, name, severity, severity_rank,
        status, classification, determination, assigned_to, created_time, last_update_time,
        redirect_incident_id, tags, comments, alert_count, service_sources, service_sources_key,
        search_text, incident_uri, raw, first_synced_at, synced_at %(extra_columns)s)
    SELECT (SELECT min(id) FROM tenants_customer) - 1 + s.customer_id, s.g, s.name, s.sev,
        s.rank, s.status,
        (ARRAY['Unknown','TruePositive','FalsePositive',
               'InformationalExpectedActivity'])[1 + s.g % 4],
        (ARRAY['NotAvailable','Malware','Phishing','Other'])[1 + s.g % 4],
        CASE WHEN s.g % 5 < 2 THEN '' ELSE format('analyst%s@mssp.example', s.g % 20) END,
        s.created, s.created + (random() * interval '2 days'), NULL, '[]', '[]', 1 + s.g % 4,
        format('["%s"]', s.src)::jsonb, format('|%s|', s.src),
        lower(s.name || format(' host-%s.customer%s.example user%s@customer%s.example 10.%s.%s.%s',
            s.g % 5000, s.customer_id, s.g % 300, s.customer_id, s.g % 250, s.customer_id % 250,
            s.g % 200)),
        '', format('{"incidentId": %s}', s.g)::jsonb, s.created, now() %(extra_values)s
    FROM (
        SELECT g,
            1 + least(floor(power(random(), 2) * %(tenants)s)::int, %(tenants)s - 1) AS customer_id,
            (ARRAY['Multi-stage incident involving Initial access & Execution',
                   'Email messages containing malicious URL removed after delivery',
                   'Suspicious PowerShell command line', 'Impossible travel activity',
                   'Activity from an anonymous proxy involving one user',
                   'Ransomware activity on multiple endpoints',
                   'Malicious attachment opened on one endpoint'])[1 + g % 7] || ' ' || g AS name,
            r.sev, r.rank,
            CASE WHEN g % 100 < 15 THEN 'Active' WHEN g % 100 < 25 THEN 'InProgress'
                 WHEN g % 100 < 27 THEN 'Redirected' ELSE 'Resolved' END AS status,
            now() - (random() * interval '180 days') AS created,
            (ARRAY['MicrosoftDefenderForEndpoint','MicrosoftDefenderForOffice365',
                   'AADIdentityProtection','MicrosoftCloudAppSecurity'])[1 + g % 4] AS src
        FROM generate_series(1, %(incidents)s) g,
        LATERAL (SELECT CASE WHEN g % 20 < 2 THEN 'High' WHEN g % 20 < 8 THEN 'Medium'
                             WHEN g % 20 < 15 THEN 'Low' WHEN g % 20 < 19 THEN 'Informational'
                             ELSE 'UnSpecified' END AS sev,
                        CASE WHEN g % 20 < 2 THEN 4 WHEN g % 20 < 8 THEN 3 WHEN g % 20 < 15 THEN 2
                             WHEN g % 20 < 19 THEN 1 ELSE 0 END AS rank) r
    ) s
    """,
    "VACUUM ANALYZE incidents_incident",
    "VACUUM ANALYZE tenants_customer",
    "VACUUM ANALYZE sync_tenantsyncstate",
]
# Incident columns the INSERT above fills; any other column gets its model default.
_FILLED = {
    "id", "customer_id", "incident_id", "name", "severity", "severity_rank", "status",
    "classification", "determination", "assigned_to", "created_time", "last_update_time",
    "redirect_incident_id", "tags", "comments", "alert_count", "service_sources",
    "service_sources_key", "search_text", "incident_uri", "raw", "first_synced_at", "synced_at",
}  # fmt: skip


def _extra_incident_columns() -> tuple[str, str, list[Any]]:
    """Columns added to Incident since this script was written, with their defaults."""
    from django.db import connection
    from django.db.models import JSONField

    from incidents.models import Incident

    columns: list[str] = []
    marks: list[str] = []
    params: list[Any] = []
    for f in Incident._meta.concrete_fields:
        if f.column in _FILLED:
            continue
        value = f.get_default()
        columns.append(connection.ops.quote_name(f.column))
        if isinstance(f, JSONField):
            import json

            marks.append("%s::jsonb")
            params.append(json.dumps(value))
        else:
            marks.append("%s")
            params.append(f.get_db_prep_save(value, connection))
    if not columns:
        return "", "", []
    return ", " + ", ".join(columns), ", " + ", ".join(marks), params


def _create_customers() -> None:
    """1,000 customers (94% connected, the rest in other consent states) and sync states."""
    import uuid

    from django.utils import timezone

    from sync.models import TenantSyncState
    from tenants.models import ConsentState, Customer

    now = timezone.now()
    states = {
        1: ConsentState.PENDING,
        2: ConsentState.MISSING_PERMISSIONS,
        3: ConsentState.CONSENT_REVOKED,
    }
    customers = Customer.objects.bulk_create(
        Customer(
            name=f"Customer {g:04d}",
            primary_domain=f"customer{g}.example",
            tenant_id=uuid.UUID(int=g),
            consent_state=states.get(g % 50, ConsentState.CONNECTED),
            granted_roles=["Incident.Read.All"],
            missing_roles=["Incident.Read.All"] if g % 50 == 2 else [],
        )
        for g in range(1, TENANTS + 1)
    )
    TenantSyncState.objects.bulk_create(
        TenantSyncState(
            customer=c,
            last_finished_at=now,
            last_success_at=now - timedelta(hours=3) if i % 97 == 0 else now,
            last_outcome="failed" if i % 97 == 0 else "succeeded",
            last_error="Microsoft answered HTTP 503 three times; will retry."
            if i % 97 == 0
            else "",
        )
        for i, c in enumerate(customers)
        if c.consent_state == ConsentState.CONNECTED
    )


def _build_data(force: bool) -> None:
    from django.db import connection

    from incidents.models import Incident

    current = Incident.objects.count()
    if current == INCIDENTS and not force:
        print(f"reusing {current:,} incidents")
        return
    print(f"generating {TENANTS:,} tenants and {INCIDENTS:,} incidents ...", flush=True)
    started = time.perf_counter()
    extra_columns, extra_values, extra_params = _extra_incident_columns()
    with connection.cursor() as cursor:
        cursor.execute(GENERATE_SQL[0])
        _create_customers()
        for statement in GENERATE_SQL[1:]:
            text = (
                statement.replace("%(tenants)s", str(TENANTS))
                .replace("%(incidents)s", str(INCIDENTS))
                .replace("%(extra_columns)s", extra_columns)
            )
            if "%(extra_values)s" in text and extra_params:
                # Literal % in the statement must be doubled once parameters are passed.
                text = text.replace("%", "%%").replace("%%(extra_values)s", extra_values)
                cursor.execute(text, extra_params or None)
            else:
                cursor.execute(text.replace("%(extra_values)s", ""))
    print(f"generated in {time.perf_counter() - started:.0f} s", flush=True)


def _users():  # type: ignore[no-untyped-def]
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    from accounts.roles import ADMINISTRATORS, ANALYSTS, ensure_roles
    from tenants.models import Customer

    ensure_roles()
    user_model = get_user_model()
    admin, _ = user_model.objects.get_or_create(username="bench-admin")
    admin.groups.add(Group.objects.get(name=ADMINISTRATORS))
    analyst, _ = user_model.objects.get_or_create(username="bench-analyst")
    analyst.groups.add(Group.objects.get(name=ANALYSTS))
    # Ten customers: two large ones and eight of ordinary size.
    picks = list(Customer.objects.filter(pk__in=[1, 2, *range(500, 508)]))
    for customer in picks:
        customer.assigned_users.add(analyst)
    return admin, analyst


def _deep_cursor(sort: str, depth: int, where: str = "") -> str:
    """The cursor of the row at ``depth`` in ``sort`` order (found once, outside timing)."""
    from dashboard.pagination import SORT_KEYS, Cursor
    from incidents.models import Incident

    keys = SORT_KEYS[sort]
    row = (
        Incident.objects.extra(where=[where] if where else [])
        .order_by(*[f"-{k}" for k in keys])
        .only(*keys)[depth]
    )
    return Cursor.for_row(sort, row).encode()


def _measure(client, url: str, iterations: int) -> list[float]:  # type: ignore[no-untyped-def]
    for _ in range(3):
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code)
    times = []
    for _ in range(iterations):
        started = time.perf_counter()
        response = client.get(url)
        if hasattr(response, "streaming_content"):
            b"".join(response.streaming_content)
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200
    return times


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[max(0, round(0.95 * len(ordered)) - 1)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--iterations", type=int, default=30)
    parser.add_argument("--rebuild", action="store_true", help="regenerate the data set")
    args = parser.parse_args()

    url = _prepare_environment()
    _ensure_database(url)
    import django

    django.setup()
    from django.core.management import call_command
    from django.test import Client
    from django.test.utils import setup_test_environment
    from django.urls import reverse

    setup_test_environment()  # allow the test client's "testserver" host
    call_command("migrate", verbosity=0)
    _build_data(args.rebuild)
    admin, analyst = _users()

    home = reverse("dashboard:incidents")
    summary = reverse("dashboard:summary")
    tenants = reverse("dashboard:tenants")
    deep_created = _deep_cursor("created", 500_000)
    deep_severity = _deep_cursor("severity", 300_000)
    deep_updated = _deep_cursor("updated", 900_000)
    deep_high = _deep_cursor("created", 60_000, "severity_rank = 4")

    def q(**params: object) -> str:
        return home + "?" + urlencode(params, doseq=True)

    list_cases = [
        ("no filter, newest first", home),
        ("sort severity", q(sort="severity")),
        ("sort last updated", q(sort="updated")),
        ("severity High", q(severity="High")),
        ("open (Active+InProgress)", q(status=["Active", "InProgress"])),
        (
            "open High+Medium by severity",
            q(status=["Active", "InProgress"], severity=["High", "Medium"], sort="severity"),
        ),
        ("one large customer", q(customer=1)),
        ("one small customer, by severity", q(customer=700, sort="severity")),
        ("five customers", q(customer=[3, 40, 400, 800, 999])),
        ("unassigned", q(assigned="unassigned")),
        ("assigned to one analyst", q(assigned="analyst7@mssp.example")),
        ("classification TruePositive", q(classification="TruePositive")),
        ("service source MDO", q(source="MicrosoftDefenderForOffice365")),
        ("created last 7 days", q(date_field="created", start=_days_ago(6), end=_days_ago(0))),
        (
            "updated in a 30-day window",
            q(date_field="updated", start=_days_ago(60), end=_days_ago(30)),
        ),
        ("text: common word", q(q="powershell")),
        ("text: rare host", q(q="host-4321.customer17")),
        ("text: IP", q(q="10.42.17.")),
        ("text + High + open", q(q="ransomware", severity="High", status="Active")),
        (
            "everything combined",
            q(
                customer=[1, 2, 3],
                severity=["High", "Medium"],
                status="Active",
                source="MicrosoftDefenderForEndpoint",
                q="multi-stage",
                sort="updated",
            ),
        ),
        ("page far down (500,000th, created)", q(after=deep_created)),
        ("page far down (300,000th, severity)", q(sort="severity", after=deep_severity)),
        ("page far down (900,000th, updated)", q(sort="updated", after=deep_updated)),
        ("page far down, High only", q(severity="High", after=deep_high)),
    ]
    results: list[tuple[str, str, str, list[float], float]] = []
    header = (
        f"{'page':8} {'user':8} {'case':44} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8} {'target':>7}"
    )
    print(header)
    print("-" * len(header), flush=True)

    def record(page: str, who: str, name: str, times: list[float], target: float) -> None:
        results.append((page, who, name, times, target))
        p95 = _p95(times)
        flag = "" if p95 <= target else "  MISSED"
        print(
            f"{page:8} {who:8} {name:44} {statistics.median(times):8.1f} {p95:8.1f} "
            f"{max(times):8.1f} {target:>7.0f}{flag}",
            flush=True,
        )

    for who, user in (("admin", admin), ("analyst", analyst)):
        client = Client()
        client.force_login(user)
        for name, case_url in list_cases:
            record("list", who, name, _measure(client, case_url, args.iterations), 100)
        for name, case_url in (
            ("summary (all visible customers)", summary),
            ("summary, one customer", summary + "?customer=1"),
            (
                "summary, High, 30-day chart",
                summary
                + "?"
                + urlencode(
                    {
                        "severity": "High",
                        "date_field": "created",
                        "start": _days_ago(29),
                        "end": _days_ago(0),
                    }
                ),
            ),
        ):
            record("summary", who, name, _measure(client, case_url, args.iterations), 200)
        for name, case_url in (
            ("tenant overview (first page)", tenants),
            ("tenant overview, last page", tenants + "?page=10"),
        ):
            record("tenants", who, name, _measure(client, case_url, args.iterations), 200)
        live = reverse("dashboard:incidents_live")
        record("live", who, "table refresh partial", _measure(client, live, args.iterations), 100)

    missed = sum(1 for _p, _w, _n, times, target in results if _p95(times) > target)
    print(f"\n{len(results)} cases x {args.iterations} iterations; {missed} target(s) missed")
    return 1 if missed else 0


def _days_ago(days: int) -> str:
    from datetime import date, timedelta

    return (date.today() - timedelta(days=days)).isoformat()


if __name__ == "__main__":
    sys.exit(main())
