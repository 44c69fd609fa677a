"""Command line: `python -m emulator serve --port 8443 --data-dir var/emulator [options]`.

Serves until SIGINT/SIGTERM. Once listening, the data dir holds ca.pem, client_cert.pem and
config.json (docs/emulator-interface.md). `--fault KIND[:key=value,...]` arms faults at start,
e.g. `--fault 429:count=3,after=10` or `--fault revoke_consent:tenant_id=<guid>,after=5`.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Sequence
from typing import Any

from .constants import TENANT_STATES
from .directory import default_tenant_specs
from .faults import FAULT_KINDS
from .knobs import DESCRIPTION_SEPARATORS, LIST_ORDERS, NULL_STYLES, TOKEN_AUDS, TOP_OVER_MAX, Knobs
from .server import EmulatorServer


def _int_list(text: str) -> list[int]:
    try:
        return [int(x) for x in text.split(",") if x.strip()]
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers: {text!r}") from exc


def _state_list(text: str) -> list[str]:
    states = [x.strip() for x in text.split(",") if x.strip()]
    bad = [s for s in states if s not in TENANT_STATES]
    if bad:
        raise argparse.ArgumentTypeError(f"unknown state(s) {bad}; use {TENANT_STATES}")
    return states


def _roles(text: str) -> str | list[str]:
    return text if text in ("all", "none") else [r.strip() for r in text.split(",") if r.strip()]


def _fault(text: str) -> dict[str, Any]:
    kind, _, rest = text.partition(":")
    if kind not in FAULT_KINDS:
        raise argparse.ArgumentTypeError(f"unknown fault kind {kind!r}; use {FAULT_KINDS}")
    spec: dict[str, Any] = {"kind": kind}
    for item in filter(None, rest.split(",")):
        key, _, value = item.partition("=")
        if key in ("count", "after", "retry_after"):
            spec[key] = int(value)
        elif key == "delay":
            spec[key] = float(value)
        elif key in ("tenant_id", "path_prefix"):
            spec[key] = value
        else:
            raise argparse.ArgumentTypeError(f"unknown fault option {key!r}")
    return spec


def build_parser() -> argparse.ArgumentParser:
    """The argparse parser for `python -m emulator`."""
    parser = argparse.ArgumentParser(prog="python -m emulator", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("serve", help="serve the emulator until stopped")
    p.add_argument("--port", type=int, default=8443)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--data-dir", default="var/emulator")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--tenants", type=int, default=None, help="number of tenants (default 6)")
    p.add_argument(
        "--sizes",
        type=_int_list,
        default=None,
        help="incident counts per tenant, cycled (default 500,150,2000,300,40,1200)",
    )
    p.add_argument(
        "--states",
        type=_state_list,
        default=None,
        help="tenant states, cycled (default consented,no_roles,not_consented...)",
    )
    p.add_argument("--churn-seconds", type=float, default=20.0, help="0 disables churn")
    p.add_argument("--churn-steps", type=int, default=3, help="changes per churn period")
    p.add_argument("--redirect-uri", action="extend", nargs="+", default=[], metavar="URI")
    p.add_argument("--null-style", choices=NULL_STYLES, default="live")
    p.add_argument("--next-link", action="store_true")
    p.add_argument("--top-over-max", choices=TOP_OVER_MAX, default="reject")
    p.add_argument("--default-page-size", type=int, default=100)
    p.add_argument("--token-expires-in", type=int, default=3599)
    p.add_argument(
        "--consent-grants-roles", type=_roles, default="all", help="all | none | Role,Role"
    )
    p.add_argument("--consent-propagation-seconds", type=float, default=0.0)
    p.add_argument("--app-name", default=None)
    p.add_argument("--app-permissions", default=None, help="Role,Role requested by the app")
    p.add_argument(
        "--rate-limit-per-minute",
        type=int,
        default=50,
        help="list and PATCH per minute, and the Incidents-API overall quota (list + get + "
        "PATCH, contract §5.8); 0 disables",
    )
    p.add_argument(
        "--rate-limit-per-hour",
        type=int,
        default=1500,
        help="list, get and PATCH per hour, and the overall quota (§5.8); 0 disables",
    )
    p.add_argument("--latency", type=float, default=0.0, help="seconds added to every answer")
    p.add_argument("--no-deflate", action="store_true", help="never Content-Encoding: deflate")
    p.add_argument("--revocation-immediate", action="store_true")
    p.add_argument(
        "--list-order",
        choices=LIST_ORDERS,
        default="created_desc",
        help="row order of GET /api/incidents (contract §5.1: documented newest first, "
        "unordered for third parties); unstable = a per-request permutation",
    )
    p.add_argument(
        "--no-retry-after-header",
        action="store_true",
        help="429s from the Defender API carry no Retry-After header (contract §9: XDR "
        "documents only the reset time in the body)",
    )
    p.add_argument(
        "--error-description-separator",
        choices=tuple(DESCRIPTION_SEPARATORS),
        default="crlf",
        help="what joins the lines of a token error_description (contract §3.3)",
    )
    p.add_argument(
        "--token-aud",
        choices=TOKEN_AUDS,
        default="app_id_uri",
        help="access-token aud: the App ID URI as requested or the resource app ID (contract §4)",
    )
    p.add_argument(
        "--fault", type=_fault, action="append", default=[], metavar="KIND[:key=value,...]"
    )
    p.add_argument(
        "--no-prewarm",
        action="store_true",
        help="do not serialise incidents in the background at start",
    )
    p.add_argument("--quiet", action="store_true", help="no per-request log lines")
    return parser


def knobs_from_args(args: argparse.Namespace) -> Knobs:
    """Knobs from parsed `serve` arguments; ValueError if out of range."""
    knobs = Knobs(
        null_style=args.null_style,
        next_link=args.next_link,
        top_over_max=args.top_over_max,
        default_page_size=args.default_page_size,
        token_expires_in=args.token_expires_in,
        consent_grants_roles=args.consent_grants_roles,
        consent_propagation_seconds=args.consent_propagation_seconds,
        rate_limit_per_minute=args.rate_limit_per_minute,
        rate_limit_per_hour=args.rate_limit_per_hour,
        latency_seconds=args.latency,
        deflate=not args.no_deflate,
        revocation_immediate=args.revocation_immediate,
        list_order=args.list_order,
        retry_after_header=not args.no_retry_after_header,
        error_description_separator=args.error_description_separator,
        token_aud=args.token_aud,
    )
    if args.app_name:
        knobs.app_name = args.app_name
    if args.app_permissions:
        knobs.app_permissions = [r.strip() for r in args.app_permissions.split(",") if r.strip()]
    knobs.validate()
    return knobs


def serve(args: argparse.Namespace) -> int:
    """Run the server until a signal arrives; returns the exit status."""
    try:
        knobs = knobs_from_args(args)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    specs = default_tenant_specs(args.tenants, args.sizes, args.states)
    server = EmulatorServer(
        args.data_dir,
        port=args.port,
        seed=args.seed,
        tenants=specs,
        knobs=knobs,
        host=args.host,
        churn_seconds=args.churn_seconds or None,
        churn_steps=args.churn_steps,
        redirect_uris=args.redirect_uri,
        prewarm=not args.no_prewarm,
    )
    for spec in args.fault:
        server.add_fault(spec.pop("kind"), **spec)
    if not args.quiet:
        server.core.listeners.append(lambda: print("tenant states changed", file=sys.stderr))
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    server.start()
    print(f"emulator serving on {server.url} (data dir {server.data_dir})", file=sys.stderr)
    for t in server.tenants:
        print(
            f"  {t.tenant_id}  {t.state:<13} {t.incidents:>6}  {t.name} ({t.domain})",
            file=sys.stderr,
        )
    print(f"  config: {server.data_dir / 'config.json'}", file=sys.stderr, flush=True)
    seen = 0
    try:
        while not stop.wait(0.5):
            total = server.core.log_total
            if args.quiet or total == seen:
                seen = total
                continue
            log = server.requests
            fresh = log[-min(total - seen, len(log)) :] if total > seen else log
            for entry in fresh:
                print(
                    f"{entry['time']} {entry['status']} {entry['kind']:<9} {entry['method']} "
                    f"{entry['path']}",
                    file=sys.stderr,
                )
            seen = total
    finally:
        server.stop()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `python -m emulator`."""
    args = build_parser().parse_args(argv)
    if args.command == "serve":
        return serve(args)
    return 2
