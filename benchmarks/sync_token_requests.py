"""Benchmark: token requests with 4 worker processes (issue 5 target: at most one token request
per tenant per token lifetime, however many workers run).

Starts the emulator with ``--tenants`` consented tenants (default 10) and 4 fresh Python
processes (``--processes``), each set up like a Celery worker (own MSAL apps, the shared token
cache in Redis), which all ask for tokens for every tenant as fast as they can, in random
order, for ``--seconds`` (each ask is ``microsoft.entra.get_token``, what every sync does
before its first API call). Token requests are counted in the emulator's request log.

Phase A: tokens live 3599 s (Microsoft's usual ~1 h): expect exactly one request per tenant.
Phase B: tokens live 330 s, which MSAL uses for only 30 s (it renews tokens with less than
5 minutes left, contract §10.3): expect about one request per tenant per 30 s, never two
within one token's usable life.

    python benchmarks/sync_token_requests.py [--tenants 10] [--processes 4] [--seconds 30]
"""

from __future__ import annotations

import argparse
import itertools
import multiprocessing
import os
import random
import time
from typing import Any

from sync_common import Emulator, base_env, per_tenant, setup_django


def hammer(env: dict[str, str], tenants: list[str], seconds: float, start: Any, out: Any) -> None:
    os.environ.update(env)
    import django

    django.setup()
    from microsoft import entra

    start.wait()
    deadline = time.monotonic() + seconds
    calls = errors = 0
    rng = random.Random(os.getpid())
    while time.monotonic() < deadline:
        tenant = rng.choice(tenants)
        try:
            entra.get_token(tenant)
        except Exception:  # noqa: BLE001 - counted and reported
            errors += 1
        calls += 1
    out.put((calls, errors))


def phase(label: str, emulator: Emulator, env: dict[str, str], args: Any, usable: float) -> bool:
    from django.core.cache import cache

    from incidents.payload import parse_datetime

    cache.clear()  # no shared token yet: every process starts cold
    emulator.clear_requests()
    tenants = [t["tenant_id"] for t in emulator.tenants()]
    ctx = multiprocessing.get_context("spawn")
    start, out = ctx.Event(), ctx.Queue()
    procs = [
        ctx.Process(target=hammer, args=(env, tenants, args.seconds, start, out))
        for _ in range(args.processes)
    ]
    for p in procs:
        p.start()
    time.sleep(5)  # let every process import Django
    start.set()
    results = [out.get() for _ in procs]
    for p in procs:
        p.join()
    log = emulator.requests_log()
    tokens = per_tenant(log, "token")
    gaps: list[float] = []
    for tenant in tenants:
        times = sorted(
            parse_datetime(r["time"]).timestamp()
            for r in log
            if r["kind"] == "token" and r["tenant_id"] == tenant
        )
        gaps += [b - a for a, b in itertools.pairwise(times)]
    calls = sum(r[0] for r in results)
    errors = sum(r[1] for r in results)
    allowed = int(args.seconds // usable) + 1
    worst = max(tokens.values(), default=0)
    ok = errors == 0 and 1 <= worst <= allowed and all(g >= usable - 2 for g in gaps)
    print(
        f"{label}: {args.processes} processes, {len(tenants)} tenants, {args.seconds:.0f} s, "
        f"{calls} get_token calls ({errors} errors); token requests per tenant: "
        f"min {min(tokens.values(), default=0)} max {worst} (allowed {allowed}: one per "
        f"{usable:.0f} s of usable token life); shortest gap between two requests of one "
        f"tenant: {min(gaps) if gaps else float('nan'):.1f} s -> {'ok' if ok else 'FAILED'}"
    )
    return ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tenants", type=int, default=10)
    parser.add_argument("--processes", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=30)
    args = parser.parse_args()

    emulator = Emulator("--tenants", str(args.tenants), "--sizes", "5", "--states", "consented")
    env = base_env(emulator)
    try:
        setup_django(env)
        a = phase("Phase A (token lifetime 3599 s)", emulator, env, args, usable=3599 - 300)
        emulator.admin("POST", "knobs", {"token_expires_in": 330})
        args.seconds = max(args.seconds, 95)
        b = phase("Phase B (token lifetime 330 s)", emulator, env, args, usable=30)
        print(f"Result: {'meets' if a and b else 'MISSES'} the target")
    finally:
        emulator.stop()


if __name__ == "__main__":
    main()
