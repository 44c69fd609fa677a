"""The emulator's state and request dispatcher (no sockets here; see server.py).

`EmulatorCore.dispatch(Request) -> Response` classifies the request (discovery, token, consent,
api, admin, other), applies armed faults and the latency knob, routes it and logs it with
secrets redacted. All state changes happen under `self.lock`.
"""

from __future__ import annotations

import random
import threading
import time
import traceback
import uuid
import zlib
from collections import deque
from collections.abc import Callable
from typing import Any

from . import entra_errors as E
from .admin import AdminApi
from .churn import churn_step
from .consent import ConsentService
from .consent_page import error_page
from .constants import DEFAULT_REDIRECT_URIS
from .datagen import make_pools
from .defender import DefenderApi, api_error, too_many_requests
from .directory import AppRegistration, Directory, TenantSpec, build_tenants, det_secret, det_uuid
from .faults import Fault, FaultBook
from .httpio import Request, Response, html_response, json_response
from .identity import IdentityService, match_route
from .knobs import Clock, Knobs
from .pki import KeyMaterial
from .store import ByteLRU, TenantStore
from .throttle import Throttle
from .timeutil import entra_timestamp, format_ticks, to_ticks
from .tokens import TokenService, unverified_claims

REDACTED = "[redacted]"
_SECRET_FIELDS = {"client_secret", "client_assertion", "code", "access_token", "password"}
LOG_SIZE = 20_000
#: Bounds of the serialised-incident and list-page caches (bytes).
FRAGMENT_CACHE_BYTES = 128 * 1024 * 1024
PAGE_CACHE_BYTES = 32 * 1024 * 1024


def _redact(values: dict[str, str]) -> dict[str, str]:
    return {k: (REDACTED if k in _SECRET_FIELDS else v) for k, v in values.items()}


class EmulatorCore:
    """All emulator state: directory, app, stores, knobs, faults, throttle and the request log."""

    def __init__(
        self,
        *,
        keys: KeyMaterial,
        seed: int,
        tenants: list[TenantSpec],
        knobs: Knobs,
        redirect_uris: list[str] | None,
        anchor: float | None,
    ) -> None:
        knobs.validate()
        self.lock = threading.RLock()
        self.keys = keys
        self.seed = seed
        self.specs = list(tenants)
        self.knobs = knobs
        self.initial_knobs = knobs.copy()
        self.clock = Clock(knobs)
        self.tokens = TokenService(keys)
        self.anchor = to_ticks(anchor if anchor is not None else time.time())
        secret_salt = keys.signing_key.private_numbers().d
        self.initial_redirect_uris = list(DEFAULT_REDIRECT_URIS) + [
            u for u in redirect_uris or [] if u not in DEFAULT_REDIRECT_URIS
        ]
        self.app = AppRegistration(
            client_id=det_uuid(seed, "partner-app"),
            client_secret=det_secret(seed, secret_salt),
            secret_id=det_uuid(seed, "partner-app-secret-id"),
            redirect_uris=list(self.initial_redirect_uris),
        )
        self.fragment_cache = ByteLRU(FRAGMENT_CACHE_BYTES)
        self.page_cache = ByteLRU(PAGE_CACHE_BYTES)
        self.throttle = Throttle()
        self.faults = FaultBook()
        self.log: deque[dict[str, Any]] = deque(maxlen=LOG_SIZE)
        self.log_total = 0  # requests logged since start (the deque keeps the last LOG_SIZE)
        self.listeners: list[Callable[[], None]] = []
        self.generation = 0
        self.prewarm_status: dict[str, Any] = {"rendered": 0, "complete": False}
        self.identity = IdentityService(self)
        self.consent = ConsentService(self)
        self.defender = DefenderApi(self)
        self.admin = AdminApi(self)
        self._build_data()

    # -- state -------------------------------------------------------------------------------
    def _build_data(self) -> None:
        with self.lock:
            records = build_tenants(self.seed, self.specs, self.knobs.granted_roles())
            self.directory = Directory(records)
            self.fragment_cache.clear()
            self.page_cache.clear()
            self.stores: dict[str, TenantStore] = {}
            for t in records:
                pools = make_pools(self.seed, t.tenant_id, t.domain, self.anchor)
                self.stores[t.tenant_id] = TenantStore(
                    self.seed, t.tenant_id, pools, t.incidents, self.anchor, self.fragment_cache
                )
            self.churn_rng = random.Random(f"{self.seed}:churn")
            self.generation += 1

    def prewarm(self, stop: threading.Event | None = None) -> int:
        """Serialise incidents (newest first, current null style) into the fragment cache so the
        first sync pass is fast; stops at 90% of the cache, on `stop`, or when data is rebuilt.
        Returns the number of incidents rendered."""
        with self.lock:
            generation = self.generation
            stores = list(self.stores.values())
        live = self.knobs.null_style == "live"
        done = 0
        self.prewarm_status = {"rendered": 0, "complete": False}
        longest = max((len(s) for s in stores), default=0)
        for start in range(0, longest, 50):
            for store in stores:
                with self.lock:
                    if generation != self.generation or (stop is not None and stop.is_set()):
                        return done
                    if self.fragment_cache.size > 0.9 * self.fragment_cache.max_bytes:
                        self.prewarm_status.update(complete=True, stopped="cache full")
                        return done
                    for rec in store.records[start : start + 50]:
                        store.piece(rec, live)
                        done += 1
                    self.prewarm_status["rendered"] = done
                time.sleep(0)
        self.prewarm_status["complete"] = True
        return done

    def reset(self) -> None:
        """Back to the seeded initial state: data, tenant states, knobs, faults, windows, log."""
        with self.lock:
            self.knobs.restore(self.initial_knobs)
            self.app.redirect_uris = list(self.initial_redirect_uris)
            self.app.secret_expired = False
            self.faults.clear()
            self.throttle.reset()
            self._build_data()
            self.log.clear()
        self.notify()

    def notify(self) -> None:
        """Run state-change listeners (config.json rewrite)."""
        for listener in list(self.listeners):
            listener()

    def set_tenant_state(self, tenant_id: str, state: str, roles: list[str] | None = None) -> None:
        """Move a tenant to "consented" (roles: given or `knobs.granted_roles()`, never empty),
        "no_roles" (SP without roles) or "not_consented" (SP deleted). KeyError if unknown."""
        with self.lock:
            tenant = self.directory.get(tenant_id)
            if state == "not_consented":
                tenant.sp_exists, tenant.roles = False, []
            elif state == "no_roles":
                tenant.sp_exists, tenant.roles = True, []
            elif state == "consented":
                granted = list(roles if roles is not None else self.knobs.granted_roles())
                tenant.sp_exists = True
                tenant.roles = granted or list(self.knobs.app_permissions)
            else:
                raise ValueError(f"unknown tenant state {state!r}")
        self.notify()

    def grant_consent(self, tenant_id: str) -> None:
        """An administrator accepted consent: SP created now, roles per consent_grants_roles."""
        with self.lock:
            tenant = self.directory.get(tenant_id)
            tenant.sp_exists = True
            tenant.roles = self.knobs.granted_roles()
            tenant.consented_at = self.clock.now()
        self.notify()

    def add_incident(self, tenant_id: str, overrides: dict[str, Any]) -> dict[str, Any]:
        """A new incident created now (wire-named overrides); returns its payload."""
        with self.lock:
            tenant = self.directory.get(tenant_id)
            store = self.stores[tenant.tenant_id]
            rec = store.add(self.clock.ticks(), overrides)
            return store.render(rec, self.knobs.null_style == "live")

    def update_incident(
        self, tenant_id: str, incident_id: int, fields: dict[str, Any]
    ) -> dict[str, Any]:
        """Apply wire-named fields with lastUpdateTime = now; KeyError if unknown."""
        with self.lock:
            store = self.stores[self.directory.get(tenant_id).tenant_id]
            rec = store.by_id[int(incident_id)]
            if fields.pop("newAlert", False):
                store.add_alert(rec, self.clock.ticks())
            store.apply(rec, fields, self.clock.ticks())
            return store.render(rec, self.knobs.null_style == "live")

    def churn(self, steps: int = 1) -> list[dict[str, Any]]:
        """Apply `steps` random changes (same as the background churn); returns what changed."""
        with self.lock:
            stores = list(self.stores.values())
            if not stores:
                return []
            return [churn_step(self.churn_rng, stores, self.clock.ticks()) for _ in range(steps)]

    # -- requests ----------------------------------------------------------------------------
    def classify(self, req: Request) -> tuple[str, str | None, Any]:
        """(kind, tenant GUID or raw path tenant, route info) for a request."""
        path = req.path
        if path == "/api" or path.startswith("/api/"):
            token = req.header("Authorization")[7:].strip()
            tid = unverified_claims(token).get("tid") if token else None
            return "api", tid if isinstance(tid, str) else None, None
        route = match_route(path)
        if route is None:
            return "other", None, None
        kind, _, path_tenant = route
        with self.lock:
            tenant = self.directory.resolve(path_tenant)
        return kind, tenant.tenant_id if tenant else path_tenant, route

    def dispatch(self, req: Request) -> Response:
        """Handle one request end to end (never raises)."""
        started = time.monotonic()
        fired: list[Fault] = []
        tenant_id: str | None = None
        if req.path == "/_emulator" or req.path.startswith("/_emulator/"):
            kind = "admin"
            resp = self._safe(lambda: self.admin.handle(req), kind)
        else:
            kind, tenant_id, route = self.classify(req)
            fired = self.faults.match(req.path, tenant_id)
            resp_or_none, malformed, delay = self._faults(fired, kind)
            delay += float(self.knobs.latency_seconds)
            if delay > 0:
                time.sleep(delay)
            if resp_or_none is None:
                resp = self._safe(lambda: self._route(req, kind, route), kind)
                if malformed:
                    resp = _corrupt(resp)
            else:
                resp = resp_or_none
        self._record(req, resp, kind, tenant_id, fired, started)
        return resp

    def _route(self, req: Request, kind: str, route: Any) -> Response:
        if kind == "api":
            return self.defender.handle(req)
        if kind == "other":
            return json_response(404, {"error": "not_found", "path": req.path})
        _, handler, path_tenant = route
        if kind == "consent":
            return self.consent.handle(req, handler, path_tenant)
        method: Callable[[Request, str], Response] = getattr(self.identity, handler)
        return method(req, path_tenant)

    def _safe(self, fn: Callable[[], Response], kind: str) -> Response:
        try:
            return fn()
        except Exception:  # noqa: BLE001 - a handler bug must become a 500, not a dead socket
            traceback.print_exc()
            return self._error_for(kind, 500, None)

    def _faults(self, fired: list[Fault], kind: str) -> tuple[Response | None, bool, float]:
        resp: Response | None = None
        malformed, delay = False, 0.0
        for fault in fired:
            if fault.kind == "revoke_consent" and fault.tenant_id:
                self.set_tenant_state(fault.tenant_id, "not_consented")
            elif fault.kind == "slow":
                delay += fault.delay if fault.delay is not None else 1.0
            elif fault.kind == "malformed_json":
                malformed = True
            elif fault.kind == "drop" and resp is None:
                resp = Response(0, drop=True)
            elif fault.kind in ("429", "500", "503") and resp is None:
                resp = self._error_for(kind, int(fault.kind), fault.retry_after)
        return resp, malformed, delay

    def _error_for(self, kind: str, status: int, retry_after: int | None) -> Response:
        """An injected (or internal) error in the shape the endpoint kind uses.

        API 429s are the §9 throttling answer (Retry-After per knob `retry_after_header`);
        other kinds' 429s always carry Retry-After (default 1)."""
        headers = [("Retry-After", str(retry_after or 1))] if status == 429 else []
        if kind == "api":
            if status == 429:
                return too_many_requests(
                    retry_after or 1, header=bool(self.knobs.retry_after_header)
                )
            code, message = {
                503: ("ServiceUnavailable", "The service is temporarily unavailable."),
            }.get(status, ("InternalServerError", "An unexpected error occurred."))
            return api_error(status, code, message)
        if kind in ("token", "discovery"):
            err = E.throttled() if status == 429 else E.server_error(status)
            body = E.token_error_body(
                err, now=self.clock.now(), separator=self.knobs.description_separator()
            )
            resp = json_response(status, body)
            resp.headers.extend(headers)
            return resp
        if kind == "consent":
            now = self.clock.now()
            err = E.throttled() if status == 429 else E.server_error(status)
            ids = str(uuid.uuid4()), str(uuid.uuid4())
            html = error_page(err.code, err.message, *ids, entra_timestamp(now))
            resp = html_response(status, html)
            resp.headers.extend(headers)
            return resp
        resp = json_response(status, {"error": "injected", "status": status})
        resp.headers.extend(headers)
        return resp

    def _record(
        self,
        req: Request,
        resp: Response,
        kind: str,
        tenant_id: str | None,
        fired: list[Fault],
        started: float,
    ) -> None:
        entry: dict[str, Any] = {
            "time": format_ticks(self.clock.ticks()),
            "method": req.method,
            "path": req.path,
            "query": _redact(req.query),
            "tenant_id": tenant_id,
            "status": 0 if resp.drop else resp.status,
            "kind": kind,
            "host": req.host,
            "faults": [f.kind for f in fired],
            "duration_ms": round((time.monotonic() - started) * 1000, 2),
        }
        if kind == "token":
            form = req.form()
            entry["form"] = _redact(form)
            entry["client_id"] = form.get("client_id")
        elif kind == "api":
            token = req.header("Authorization")[7:].strip()
            entry["client_id"] = unverified_claims(token).get("appid") if token else None
        self.log.append(entry)
        self.log_total += 1


def _corrupt(resp: Response) -> Response:
    """The same response with its JSON body cut in half (malformed_json fault)."""
    body = zlib.decompress(resp.body) if resp.encoded else resp.body
    cut = body[: max(1, len(body) // 2)] if body else b"{"
    return Response(
        resp.status, cut, resp.headers, compressible=resp.compressible, chunked=resp.chunked
    )
