"""Shared set-up of the sync benchmarks (``benchmarks/sync_*.py``); not a benchmark itself.

- ``Emulator``: ``python -m emulator serve`` in a subprocess (own data dir, free port), its
  config, and the admin endpoints (knobs, request log).
- ``setup_django(...)``: environment for the portal pointed at the emulator, a dedicated
  PostgreSQL database (BENCH_DATABASE_URL, default ``postgres://postgres@127.0.0.1:5432/
  portal_bench_sync``; created if missing, migrated, emptied of customers) and Redis
  (BENCH_REDIS_URL, default ``redis://127.0.0.1:6379/5``, flushed).
- ``start_workers(...)``: real ``celery -A partner_portal.celery worker`` processes with the
  same environment.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/portal_bench_sync"
DEFAULT_REDIS = "redis://127.0.0.1:6379/5"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Emulator:
    """The emulator CLI in a subprocess. ``args`` are extra ``serve`` options."""

    def __init__(self, *args: str, timeout: float = 300) -> None:
        self.data_dir = Path(tempfile.mkdtemp(prefix="bench-emulator-"))
        self.port = free_port()
        command = [sys.executable, "-m", "emulator", "serve", "--port", str(self.port)]
        command += ["--data-dir", str(self.data_dir), "--churn-seconds", "0", "--quiet", *args]
        self.proc = subprocess.Popen(command, cwd=ROOT, stderr=subprocess.DEVNULL)
        config_path = self.data_dir / "config.json"
        deadline = time.monotonic() + timeout
        while not config_path.exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("the emulator did not start")
            time.sleep(0.1)
        time.sleep(0.2)
        self.config: dict[str, Any] = json.loads(config_path.read_text())
        self.session = requests.Session()
        self.session.trust_env = False
        self.session.verify = self.config["ca_path"]
        self.session.headers["X-Emulator-Key"] = self.config["client_secret"]

    def admin(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        response = self.session.request(
            method, f"{self.config['admin_url']}/{path}", json=body, timeout=60
        )
        response.raise_for_status()
        return response.json()

    def tenants(self, state: str = "consented") -> list[dict[str, Any]]:
        return [t for t in self.config["tenants"] if t["state"] == state]

    def requests_log(self) -> list[dict[str, Any]]:
        return list(self.admin("GET", "requests"))

    def clear_requests(self) -> None:
        self.admin("POST", "requests/clear")

    def portal_env(self) -> dict[str, str]:
        """Environment variables pointing the portal at this emulator."""
        c = self.config
        return {
            "AZURE_AUTHORITY_HOST": c["authority_host"],
            "DEFENDER_API_URL": c["api_url"],
            "AZURE_CLIENT_ID": c["client_id"],
            "AZURE_CLIENT_SECRET": c["client_secret"],
            "AZURE_CLIENT_CERTIFICATE_PATH": "",
            "REQUESTS_CA_BUNDLE": c["ca_path"],
        }

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def count_kinds(log: list[dict[str, Any]]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for entry in log:
        counts[entry["kind"]] = counts.get(entry["kind"], 0) + 1
    return counts


def per_tenant(log: list[dict[str, Any]], kind: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    for entry in log:
        if entry["kind"] == kind:
            counts[entry["tenant_id"]] = counts.get(entry["tenant_id"], 0) + 1
    return counts


def _ensure_database(url: str) -> None:
    import psycopg
    from psycopg import sql

    name = url.rsplit("/", 1)[1].split("?")[0]
    admin_url = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def base_env(emulator: Emulator | None, **extra: str) -> dict[str, str]:
    """The environment of the benchmark process and of its workers."""
    env = {
        "DJANGO_SETTINGS_MODULE": "partner_portal.settings.development",
        "DEBUG": "false",
        "DATABASE_URL": os.environ.get("BENCH_DATABASE_URL", DEFAULT_DB),
        "REDIS_URL": os.environ.get("BENCH_REDIS_URL", DEFAULT_REDIS),
        "LOG_LEVEL": "WARNING",
        **(emulator.portal_env() if emulator else {}),
        **extra,
    }
    return env


def setup_django(env: dict[str, str]) -> None:
    """Apply ``env``, create/migrate the database, empty it, flush Redis, django.setup()."""
    os.environ.update(env)
    _ensure_database(env["DATABASE_URL"])
    import django

    django.setup()
    from django.core.cache import cache
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    call_command("createcachetable", verbosity=0)
    from tenants.models import Customer

    Customer.objects.all().delete()
    cache.clear()


def create_customers(tenants: list[dict[str, Any]]) -> list[Any]:
    """One connected customer per emulator tenant."""
    from django.utils import timezone

    from tenants.models import ConsentState, Customer

    now = timezone.now()
    Customer.objects.bulk_create(
        [
            Customer(
                name=f"{t['name']} {i}",
                tenant_id=t["tenant_id"],
                consent_state=ConsentState.CONNECTED,
                granted_roles=["Incident.Read.All"],
                consent_given_at=now,
                last_confirmed_at=now,
            )
            for i, t in enumerate(tenants)
        ]
    )
    return list(Customer.objects.order_by("pk"))


def start_workers(
    env: dict[str, str], *, concurrency: int, name: str = "bench", log_dir: Path | None = None
) -> subprocess.Popen[bytes]:
    """A celery worker (prefork, ``concurrency`` processes) in its own process group."""
    log_dir = log_dir or Path(tempfile.mkdtemp(prefix="bench-worker-"))
    command = [sys.executable, "-m", "celery", "-A", "partner_portal.celery", "worker"]
    command += ["--pool=prefork", f"--concurrency={concurrency}", "--loglevel=WARNING"]
    command += ["-n", f"{name}@%h", "--without-gossip", "--without-mingle", "--without-heartbeat"]
    log = open(log_dir / f"{name}.log", "wb")  # noqa: SIM115 - lives as long as the worker
    return subprocess.Popen(
        command,
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def stop_workers(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def wait_until(
    predicate: Callable[[], bool], timeout: float, what: str, poll: float = 0.2
) -> float:
    """Seconds until ``predicate()`` is true; SystemExit after ``timeout``."""
    start = time.monotonic()
    while not predicate():
        if time.monotonic() - start > timeout:
            raise SystemExit(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(poll)
    return time.monotonic() - start


def rss_mb(pid: int) -> float:
    """Resident set size of process ``pid`` in MB (from /proc), 0 if it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def children(pid: int) -> list[int]:
    """PIDs of ``pid``'s direct children."""
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(p) for p in text.split()]


def run_cycle(expected: int, *, timeout: float = 600) -> tuple[float, float]:
    """Make every connected tenant due, run the sweep here (it publishes to the real broker)
    and wait until ``expected`` syncs started after that have finished.

    Returns (seconds the sweep itself took, seconds until every sync finished).
    """
    from django.utils import timezone

    from sync import scheduling
    from sync.models import SyncRun, TenantSyncState

    start = timezone.now()
    TenantSyncState.objects.update(next_sync_at=start - timedelta(seconds=1))
    t0 = time.monotonic()
    enqueued = scheduling.enqueue_due_syncs()
    sweep_seconds = time.monotonic() - t0
    if enqueued != expected:
        raise SystemExit(f"the sweep enqueued {enqueued} syncs, expected {expected}")
    finished = SyncRun.objects.filter(started_at__gte=start, finished_at__isnull=False)
    wait_until(lambda: finished.count() >= expected, timeout, f"{expected} syncs")
    return sweep_seconds, time.monotonic() - t0


def cycle_outcomes() -> dict[str, int]:
    """Outcomes of each tenant's latest sync."""
    from sync.models import TenantSyncState

    counts: dict[str, int] = {}
    for outcome in TenantSyncState.objects.values_list("last_outcome", flat=True):
        counts[outcome] = counts.get(outcome, 0) + 1
    return counts
