"""Benchmark: list-incident pages per second served by the emulator (issue 3 target: >= 200/s).

Starts `python -m emulator serve` in a subprocess with one consented tenant of 20,000 incidents
(rate limits and churn off), gets a token, then walks
`GET /api/incidents?$filter=lastUpdateTime ge <30 days ago>&$top=100&$skip=n` over keep-alive
HTTPS with requests: one client, then two concurrent client processes. Pages are read fully
(deflate decoded); `--parse` also decodes the JSON as a portal would. Prints the figures.

    python benchmarks/emulator_list_incidents.py [--incidents 20000] [--seconds 10] [--parse]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parent.parent


def start_emulator(
    data_dir: Path, incidents: int, prewarm: bool
) -> tuple[subprocess.Popen[bytes], dict]:
    cmd = [
        sys.executable,
        "-m",
        "emulator",
        "serve",
        "--port",
        "0",
        "--data-dir",
        str(data_dir),
        "--tenants",
        "1",
        "--sizes",
        str(incidents),
        "--states",
        "consented",
        "--churn-seconds",
        "0",
        "--rate-limit-per-minute",
        "0",
        "--rate-limit-per-hour",
        "0",
        "--quiet",
        *([] if prewarm else ["--no-prewarm"]),
    ]
    proc = subprocess.Popen(cmd, cwd=ROOT, stderr=subprocess.DEVNULL)
    config_path = data_dir / "config.json"
    deadline = time.monotonic() + 120
    while not config_path.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise SystemExit("emulator did not start")
        time.sleep(0.1)
    return proc, json.loads(config_path.read_text())


def session_for(config: dict) -> requests.Session:
    s = requests.Session()
    s.trust_env = False
    s.verify = config["ca_path"]
    return s


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (Linux /proc; 0.0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_for_prewarm(config: dict, timeout: float = 120) -> float:
    """Seconds until the emulator reports its start-up serialisation complete."""
    start = time.monotonic()
    with session_for(config) as s:
        s.headers["X-Emulator-Key"] = config["client_secret"]
        while time.monotonic() - start < timeout:
            if s.get(config["admin_url"] + "/state").json()["prewarm"]["complete"]:
                break
            time.sleep(0.1)
    return time.monotonic() - start


def get_token(config: dict) -> str:
    tenant = config["tenants"][0]["tenant_id"]
    with session_for(config) as s:
        r = s.post(
            f"{config['authority_host']}/{tenant}/oauth2/v2.0/token",
            data={
                "client_id": config["client_id"],
                "client_secret": config["client_secret"],
                "grant_type": "client_credentials",
                "scope": "https://api.security.microsoft.com/.default",
            },
        )
        r.raise_for_status()
        return str(r.json()["access_token"])


def walk(
    config: dict,
    token: str,
    watermark: str,
    until: float,
    parse: bool,
    counter: list[int],
    max_passes: int | None = None,
) -> None:
    """Walk the pages repeatedly until `until` (monotonic) or `max_passes` full passes."""
    url = config["api_url"] + "/api/incidents"
    passes = 0
    with session_for(config) as s:
        s.headers["Authorization"] = f"Bearer {token}"
        while time.monotonic() < until and (max_passes is None or passes < max_passes):
            skip = 0
            while time.monotonic() < until:
                params = {
                    "$filter": f"lastUpdateTime ge {watermark}",
                    "$top": "100",
                    "$skip": str(skip),
                }
                r = s.get(url, params=params)
                r.raise_for_status()
                # each incident object (and only it) starts with {"incidentId":
                rows = len(r.json()["value"]) if parse else r.content.count(b'{"incidentId":')
                counter[0] += 1
                if rows < 100:
                    break
                skip += 100
            passes += 1


def _client_process(
    config: dict, token: str, watermark: str, until_wall: float, parse: bool, results: Any
) -> None:
    counter = [0]
    until = time.monotonic() + (until_wall - time.time())
    walk(config, token, watermark, until, parse, counter)
    results.put(counter[0])


def run(
    config: dict, token: str, watermark: str, clients: int, seconds: float, parse: bool
) -> float:
    """Pages per second over `seconds` with `clients` client processes (no shared GIL)."""
    results: Any = multiprocessing.Queue()
    until_wall = time.time() + seconds
    procs = [
        multiprocessing.Process(
            target=_client_process, args=(config, token, watermark, until_wall, parse, results)
        )
        for _ in range(clients)
    ]
    start = time.monotonic()
    for p in procs:
        p.start()
    total = sum(results.get() for _ in procs)
    for p in procs:
        p.join()
    return total / (time.monotonic() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--incidents", type=int, default=20_000)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--parse", action="store_true", help="json-decode every page too")
    parser.add_argument(
        "--no-prewarm",
        action="store_true",
        help="measure the first pass with nothing serialised in advance",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        proc, config = start_emulator(Path(tmp), args.incidents, not args.no_prewarm)
        try:
            token = get_token(config)
            if not args.no_prewarm:
                print(f"start-up serialisation took {wait_for_prewarm(config):.1f} s")
            watermark = (datetime.now(UTC) - timedelta(days=30)).strftime(
                "%Y-%m-%dT%H:%M:%S.0000000Z"
            )
            counter = [0]
            start = time.monotonic()
            walk(config, token, watermark, time.monotonic() + 600, args.parse, counter, 1)
            cold = counter[0] / (time.monotonic() - start)
            print(
                f"cpu cores: {os.cpu_count()}; tenant: {args.incidents} incidents; "
                f"one pass = {counter[0]} pages of 100"
            )
            print(
                f"first pass, 1 client      : {cold:7.1f} pages/s "
                f"({'nothing' if args.no_prewarm else 'incidents'} pre-serialised, "
                "no page cached)"
            )
            cpu_before = cpu_seconds(proc.pid)
            one = run(config, token, watermark, 1, args.seconds, args.parse)
            cpu_one = cpu_seconds(proc.pid) - cpu_before
            print(f"warm, 1 client            : {one:7.1f} pages/s")
            cpu_before = cpu_seconds(proc.pid)
            two = run(config, token, watermark, 2, args.seconds, args.parse)
            cpu_two = cpu_seconds(proc.pid) - cpu_before
            print(f"warm, 2 concurrent clients: {two:7.1f} pages/s")
            pages = (one + two) * args.seconds
            if cpu_one + cpu_two > 0:
                per_page = (cpu_one + cpu_two) / pages * 1000
                print(
                    f"emulator CPU per warm page: {per_page:.2f} ms "
                    f"(~{1000 / per_page:.0f} pages/s per fully used core)"
                )
            verdict = "meets" if max(one, two) >= 200 else "MISSES"
            print(f"target 200 pages/s served (best warm figure): {verdict}")
        finally:
            proc.terminate()
            proc.wait(timeout=10)


if __name__ == "__main__":
    main()
