"""Benchmark: the idle sync cycle (issue 5 target: exactly one API call per tenant and no token
request when nothing changed).

Starts the emulator (``--tenants`` consented tenants, default 20, of 150 incidents each) and a
real Celery worker (2 processes) on PostgreSQL + Redis, runs one sweep cycle (backfill), then
``--idle-cycles`` cycles in which nothing changed in Microsoft's data, each triggered by the
real sweep (``sync.scheduling.enqueue_due_syncs``) after making every tenant due. For every
cycle it prints the emulator's request log by kind: Defender API calls per tenant, token
requests, and OIDC discovery requests (the one-off metadata fetch when a worker process builds
its MSAL app for a tenant; not a token request).

    python benchmarks/sync_idle_cycle.py [--tenants 20] [--idle-cycles 3]
"""

from __future__ import annotations

import argparse

from sync_common import (
    Emulator,
    base_env,
    count_kinds,
    create_customers,
    cycle_outcomes,
    per_tenant,
    run_cycle,
    setup_django,
    start_workers,
    stop_workers,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tenants", type=int, default=20)
    parser.add_argument("--idle-cycles", type=int, default=3)
    args = parser.parse_args()

    emulator = Emulator("--tenants", str(args.tenants), "--sizes", "150", "--states", "consented")
    env = base_env(emulator)
    worker = None
    try:
        setup_django(env)
        customers = create_customers(emulator.tenants())
        n = len(customers)
        worker = start_workers(env, concurrency=2, name="idle")
        ok = True
        for cycle in range(1 + args.idle_cycles):
            emulator.clear_requests()
            sweep, total = run_cycle(n)
            log = emulator.requests_log()
            kinds = count_kinds(log)
            api = per_tenant(log, "api")
            label = "backfill" if cycle == 0 else "idle"
            print(
                f"cycle {cycle} ({label}): {n} tenants, sweep {sweep * 1000:.0f} ms, all synced in"
                f" {total:.1f} s; outcomes {cycle_outcomes()}; requests {kinds}; API calls per "
                f"tenant min {min(api.values(), default=0)} max {max(api.values(), default=0)}"
            )
            if cycle > 0:
                exact = len(api) == n and set(api.values()) == {1}
                ok = ok and exact and kinds.get("token", 0) == 0
        verdict = "meets" if ok else "MISSES"
        print(
            f"Result: idle cycles {verdict} the target (exactly one API call per tenant, "
            "no token request)"
        )
    finally:
        if worker is not None:
            stop_workers(worker)
        emulator.stop()


if __name__ == "__main__":
    main()
