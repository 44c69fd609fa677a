"""Benchmark: scale (issue 5 targets: a sweep over 1,000 connected tenants finishes within one
minute when nothing changed; a worker stays under 200 MB while backfilling a 100,000-incident
tenant).

Part 1 (``--tenants``, default 1,000): the emulator with that many small consented tenants, a
real Celery worker (``--concurrency``, default 4 processes) on PostgreSQL + Redis. One cycle
backfills every tenant; then an idle cycle (nothing changed at Microsoft) is timed from the
sweep until the last tenant's sync has finished, with the emulator's request counts.

Part 2 (``--big``, default 100,000): the emulator with one tenant of that many incidents, a
worker with one process, rate limits lifted (emulator and portal) so the backfill runs at full
speed, and a backfill window covering every incident. The resident memory (RSS, /proc) of the
worker's pool process (the one syncing) and of its parent is sampled every 0.25 s until the
pass is complete.

    python benchmarks/sync_scale.py [--tenants 1000] [--concurrency 4] [--big 100000]
        [--skip-sweep] [--skip-memory]
"""

from __future__ import annotations

import argparse
import threading
import time

from sync_common import (
    Emulator,
    base_env,
    children,
    count_kinds,
    create_customers,
    cycle_outcomes,
    per_tenant,
    rss_mb,
    run_cycle,
    setup_django,
    start_workers,
    stop_workers,
    wait_until,
)


def sweep_part(tenants: int, concurrency: int) -> bool:
    emulator = Emulator("--tenants", str(tenants), "--sizes", "2", "--states", "consented")
    env = base_env(emulator)
    worker = None
    try:
        setup_django(env)
        n = len(create_customers(emulator.tenants()))
        worker = start_workers(env, concurrency=concurrency, name="scale")
        emulator.clear_requests()
        sweep, total = run_cycle(n, timeout=900)
        print(
            f"backfill cycle: {n} tenants in {total:.1f} s (sweep {sweep * 1000:.0f} ms); "
            f"outcomes {cycle_outcomes()}; requests {count_kinds(emulator.requests_log())}"
        )
        emulator.clear_requests()
        sweep, total = run_cycle(n, timeout=900)
        log = emulator.requests_log()
        api = per_tenant(log, "api")
        print(
            f"idle cycle: sweep over {n} connected tenants took {sweep * 1000:.0f} ms; all "
            f"{n} syncs finished {total:.1f} s after the sweep started ({concurrency} worker "
            f"processes); outcomes {cycle_outcomes()}; requests {count_kinds(log)}; API calls "
            f"per tenant min {min(api.values(), default=0)} max {max(api.values(), default=0)}"
        )
        return total <= 60 and set(api.values()) == {1} and len(api) == n
    finally:
        if worker is not None:
            stop_workers(worker)
        emulator.stop()


def memory_part(size: int) -> bool:
    emulator = Emulator(
        "--tenants", "1", "--sizes", str(size), "--states", "consented",
        "--rate-limit-per-minute", "0", "--rate-limit-per-hour", "0", timeout=900,
    )  # fmt: skip
    env = base_env(
        emulator,
        SYNC_BACKFILL_DAYS="400",
        DEFENDER_CALLS_PER_MINUTE="1000000",
        DEFENDER_CALLS_PER_HOUR="10000000",
    )
    worker = None
    try:
        setup_django(env)
        from django.utils import timezone

        from incidents.models import Incident
        from sync import scheduling
        from sync.models import SyncTrigger, TenantSyncState

        (customer,) = create_customers(emulator.tenants())
        worker = start_workers(env, concurrency=1, name="memory")
        time.sleep(3)
        peaks = {"parent": 0.0, "child": 0.0}
        samples: list[float] = []
        stop = threading.Event()

        def sample() -> None:
            while not stop.is_set():
                peaks["parent"] = max(peaks["parent"], rss_mb(worker.pid))
                for pid in children(worker.pid):
                    for grandchild in [pid, *children(pid)]:
                        mb = rss_mb(grandchild)
                        samples.append(mb)
                        peaks["child"] = max(peaks["child"], mb)
                time.sleep(0.25)

        idle_child = max((rss_mb(p) for p in children(worker.pid)), default=0.0)
        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        t0 = time.monotonic()
        started = timezone.now()
        scheduling.publish_syncs([customer.pk], trigger=SyncTrigger.MANUAL)

        def done() -> bool:
            state = TenantSyncState.objects.filter(customer=customer).first()
            return bool(
                state
                and state.last_finished_at
                and state.last_finished_at > started
                and state.pass_filter_from is None
                and state.watermark is not None
            )

        wait_until(done, 3600, "the backfill", poll=1.0)
        seconds = time.monotonic() - t0
        stop.set()
        sampler.join()
        stored = Incident.objects.filter(customer=customer).count()
        runs = list(customer.sync_runs.order_by("pk").values_list("outcome", "pages"))
        print(
            f"backfill of {stored} incidents ({size} at the emulator) in {seconds:.0f} s "
            f"({stored / seconds:.0f} incidents/s end to end, {len(runs)} task(s): {runs}); "
            f"worker pool process RSS: {idle_child:.0f} MB idle, peak {peaks['child']:.0f} MB; "
            f"worker parent peak {peaks['parent']:.0f} MB"
        )
        return stored == size and peaks["child"] < 200
    finally:
        if worker is not None:
            stop_workers(worker)
        emulator.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tenants", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--big", type=int, default=100_000)
    parser.add_argument("--skip-sweep", action="store_true")
    parser.add_argument("--skip-memory", action="store_true")
    args = parser.parse_args()
    results = []
    if not args.skip_sweep:
        ok = sweep_part(args.tenants, args.concurrency)
        results.append(ok)
        print(f"Result: idle sweep cycle {'meets' if ok else 'MISSES'} the one-minute target")
    if not args.skip_memory:
        ok = memory_part(args.big)
        results.append(ok)
        print(f"Result: backfill memory {'meets' if ok else 'MISSES'} the 200 MB target")
    raise SystemExit(0 if all(results) else 1)


if __name__ == "__main__":
    main()
