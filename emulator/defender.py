"""Defender XDR API (§5-§7, §9): list/get/update incidents and advanced hunting.

Checks per request: route -> bearer token (signature, exp/nbf, aud, iss/tid; 401) -> roles
(403) -> rate limit per (tid, appid, endpoint) and, for the incidents endpoints, the
Incidents-API overall quota per (tid, appid) (§5.8; 429, Retry-After per the knob) -> the
operation.
"""

from __future__ import annotations

import json
import random
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from . import hunting
from .constants import (
    HUNTING_ROLES,
    INCIDENT_ENTITY_CONTEXT,
    INCIDENT_STATUSES,
    INCIDENTS_CONTEXT,
    PATCH_CLASSIFICATIONS,
    PATCH_DETERMINATIONS,
    READ_ROLES,
    WRITE_ROLES,
    XDR_APP_ID,
    XDR_RESOURCE,
)
from .datagen import IncidentRecord
from .deflate import Piece, ZlibJoiner
from .httpio import Request, Response, json_response
from .odata import ODataQueryError, parse_list_query
from .store import TenantStore
from .tokens import TokenRejected

if TYPE_CHECKING:
    from .core import EmulatorCore

ODATA_CONTENT_TYPE = "application/json; odata.metadata=minimal; odata.streaming=true; charset=utf-8"
_API_HEADERS = [
    ("OData-Version", "4.0"),
    ("Strict-Transport-Security", "max-age=31536000; includeSubDomains"),
    ("Vary", "Accept-Encoding"),
]
_AUDIENCES = (XDR_RESOURCE.lower(), XDR_APP_ID)
_LIST_PREFIX = b'{"@odata.context":"' + INCIDENTS_CONTEXT.encode() + b'","value":['
_LIST_PREFIX_PIECE = Piece(_LIST_PREFIX)
_COMMA_PIECE = Piece(b",")
_PATCH_FIELDS = {"status", "assignedTo", "classification", "determination", "tags", "comment"}
#: Largest incident id: `incidentId` is an OData Edm.Int64 ("long", §5.3).
MAX_INCIDENT_ID = 2**63 - 1
#: Endpoints that share the Incidents-API overall quota (§5.8 "Incidents API overall").
_INCIDENT_ENDPOINTS = ("incidents.list", "incidents.get", "incidents.update")
_OVERALL = "incidents.overall"


def api_error(
    status: int, code: str, message: str, headers: list[tuple[str, str]] | None = None
) -> Response:
    """§9 envelope `{"error":{"code","message","target"}}`; `target` is a new GUID."""
    body = {"error": {"code": code, "message": message, "target": str(uuid.uuid4())}}
    resp = json_response(status, body)
    resp.headers.extend(_API_HEADERS)
    resp.headers.extend(headers or [])
    return resp


def too_many_requests(retry_after: int, *, header: bool = True) -> Response:
    """The §9 429: `TooManyRequests`, "Rate limit is exceeded. Try again in <n> seconds.";
    `Retry-After: <n>` only when `header` (knob `retry_after_header`: MDE documents the header,
    XDR only the reset time in the body, §9)."""
    return api_error(
        429,
        "TooManyRequests",
        f"Rate limit is exceeded. Try again in {retry_after} seconds.",
        [("Retry-After", str(retry_after))] if header else [],
    )


def parse_incident_id(raw_id: str) -> int | None:
    """The incident id in a path segment, or None when it is not a long (-> 400 InvalidInput).

    ASCII digits only, value <= 2**63 - 1 (Edm.Int64); a well-formed id that does not exist is
    a 404, not a 400 (§9).
    """
    if not (raw_id.isascii() and raw_id.isdigit()):
        return None
    value = int(raw_id)
    return value if value <= MAX_INCIDENT_ID else None


def _forbidden(roles: tuple[str, ...]) -> Response:
    return api_error(
        403,
        "Forbidden",
        "The application does not have any of the required application permissions "
        f"({', '.join(roles)}) to access the resource.",
    )


@dataclass
class Caller:
    """The authenticated caller: tenant GUID, app id and effective roles."""

    tenant_id: str
    app_id: str
    roles: tuple[str, ...]


class DefenderApi:
    """Routes `/api/...` for any Host header."""

    def __init__(self, core: EmulatorCore) -> None:
        self.core = core

    def handle(self, req: Request) -> Response:
        """Dispatch one API request; always returns a Response (never raises)."""
        parts = [p for p in req.path.lower().split("/") if p]
        allowed: tuple[str, ...]
        roles: tuple[str, ...]
        if parts[:2] == ["api", "incidents"] and len(parts) in (2, 3):
            if len(parts) == 2:
                allowed, endpoint, roles = ("GET",), "incidents.list", READ_ROLES
            elif req.method == "PATCH":
                allowed, endpoint, roles = ("PATCH",), "incidents.update", WRITE_ROLES
            else:
                allowed, endpoint, roles = ("GET", "PATCH"), "incidents.get", READ_ROLES
        elif parts == ["api", "advancedhunting", "run"]:
            allowed, endpoint, roles = ("POST",), "advancedhunting.run", HUNTING_ROLES
        else:
            return api_error(404, "ResourceNotFound", f"Resource '{req.path}' was not found.")
        if req.method not in allowed:
            return api_error(
                405,
                "MethodNotAllowed",
                f"The requested method {req.method} is not allowed for this resource.",
            )
        caller = self._authenticate(req)
        if isinstance(caller, Response):
            return caller
        if not set(caller.roles) & set(roles):
            return _forbidden(roles)
        limited = self._throttle(caller, endpoint)
        if limited is not None:
            return limited
        if endpoint == "incidents.list":
            return self._list(req, caller)
        if endpoint == "advancedhunting.run":
            return self._hunt(req, caller)
        raw_id = req.path.rstrip("/").rsplit("/", 1)[-1]
        incident_id = parse_incident_id(raw_id)
        if incident_id is None:
            return api_error(400, "InvalidInput", f"The incident id '{raw_id}' is not valid.")
        if endpoint == "incidents.get":
            return self._get(caller, incident_id)
        return self._patch(req, caller, incident_id)

    # -- checks ------------------------------------------------------------------------------
    def _authenticate(self, req: Request) -> Caller | Response:
        header = req.header("Authorization")
        if header[:7].lower() != "bearer " or not header[7:].strip():
            return self._unauthorized("Authorization header is missing or is not a Bearer token.")
        core = self.core
        try:
            claims = core.tokens.verify(
                header[7:].strip(), now=core.clock.now(), audiences=_AUDIENCES
            )
        except TokenRejected as exc:
            return self._unauthorized(str(exc))
        with core.lock:
            tenant = core.directory.resolve(str(claims["tid"]))
            if tenant is None:
                return self._unauthorized("The access token tenant is unknown.")
            roles = tuple(claims.get("roles") or ())
            if core.knobs.revocation_immediate:
                if not tenant.sp_exists:
                    return self._unauthorized("The service principal of the app was deleted.")
                roles = tuple(r for r in roles if r in tenant.roles)
        return Caller(tenant.tenant_id, str(claims.get("appid", "")), roles)

    @staticmethod
    def _unauthorized(message: str) -> Response:
        return api_error(401, "Unauthorized", message, [("WWW-Authenticate", "Bearer")])

    def _throttle(self, caller: Caller, endpoint: str) -> Response | None:
        """429 when the endpoint's own quota or the Incidents-API overall quota is spent (§5.8).

        Per endpoint: list and PATCH `rate_limit_per_minute`, get-by-id
        `rate_limit_get_per_minute`, hunting `rate_limit_hunting_per_minute`; list, get and
        PATCH also `rate_limit_per_hour`. Overall (list + get + PATCH together, per tid and
        app): `rate_limit_per_minute` / `rate_limit_per_hour` (the table's 50 and 1,500).
        Hunting is a separate API (§7) and does not count towards it. A call refused by either
        counter is recorded in neither.
        """
        knobs = self.core.knobs
        per_minute = {
            "incidents.list": knobs.rate_limit_per_minute,
            "incidents.update": knobs.rate_limit_per_minute,
            "incidents.get": knobs.rate_limit_get_per_minute,
            "advancedhunting.run": knobs.rate_limit_hunting_per_minute,
        }[endpoint]
        per_hour = 0 if endpoint == "advancedhunting.run" else knobs.rate_limit_per_hour
        counters = [((caller.tenant_id, caller.app_id, endpoint), (int(per_minute), int(per_hour)))]
        if endpoint in _INCIDENT_ENDPOINTS:
            overall = (int(knobs.rate_limit_per_minute), int(knobs.rate_limit_per_hour))
            counters.append(((caller.tenant_id, caller.app_id, _OVERALL), overall))
        retry = self.core.throttle.check_all(counters, self.core.clock.now())
        if retry is None:
            return None
        return too_many_requests(retry, header=bool(knobs.retry_after_header))

    # -- operations --------------------------------------------------------------------------
    def _odata(self, body: bytes, *, encoded: bool = False) -> Response:
        knobs = self.core.knobs
        return Response(
            200,
            body,
            [("Content-Type", ODATA_CONTENT_TYPE), *_API_HEADERS],
            compressible=knobs.deflate,
            chunked=knobs.chunked,
            encoded=encoded,
        )

    def _list(self, req: Request, caller: Caller) -> Response:
        core = self.core
        knobs = core.knobs
        try:
            q = parse_list_query(
                req.query, default_top=int(knobs.default_page_size), top_over_max=knobs.top_over_max
            )
        except ODataQueryError as exc:
            return api_error(400, "ODataError", str(exc))
        live = knobs.null_style == "live"
        wants_deflate = knobs.deflate and "deflate" in req.header("Accept-Encoding").lower()
        link_base = req.base_url + "/api/incidents" if knobs.next_link else None
        order = knobs.list_order
        with core.lock:
            store = core.stores[caller.tenant_id]
            key = (
                caller.tenant_id,
                store.version,
                q.key,
                q.top,
                q.skip,
                live,
                link_base,
                q.top_given,
                wants_deflate,
                order,
            )
            cached = core.page_cache.get(key, None)
            if cached is None:
                rows = ordered_rows(
                    store.select(q.key, q.predicate()),
                    order,
                    (core.seed, caller.tenant_id, store.version, q.key, q.top, q.skip),
                )
                page = rows[q.skip : q.skip + q.top]
                tail = b"]"
                if link_base and q.skip + q.top < len(rows) and q.top > 0:
                    params = {"$filter": q.raw_filter} if q.raw_filter is not None else {}
                    if q.top_given:
                        params["$top"] = str(q.top)
                    params["$skip"] = str(q.skip + q.top)
                    link = (
                        link_base
                        + "?"
                        + "&".join(f"{k}={quote(v, safe='')}" for k, v in params.items())
                    )
                    tail += b',"@odata.nextLink":' + json.dumps(link).encode()
                tail += b"}"
                if wants_deflate:
                    cached = _deflated_page(store, page, live, tail)
                else:
                    frags = b",".join(store.fragment(r, live) for r in page)
                    cached = _LIST_PREFIX + frags + tail
                core.page_cache.put(key, None, cached)
        return self._odata(cached, encoded=wants_deflate)

    def _entity_body(self, caller: Caller, incident_id: int) -> bytes | None:
        core = self.core
        with core.lock:
            store = core.stores[caller.tenant_id]
            rec = store.by_id.get(incident_id)
            if rec is None:
                return None
            frag = store.fragment(rec, core.knobs.null_style == "live")
        return b'{"@odata.context":"' + INCIDENT_ENTITY_CONTEXT.encode() + b'",' + frag[1:]

    def _not_found(self, incident_id: int) -> Response:
        return api_error(404, "ResourceNotFound", f"Incident {incident_id} was not found")

    def _get(self, caller: Caller, incident_id: int) -> Response:
        body = self._entity_body(caller, incident_id)
        return self._not_found(incident_id) if body is None else self._odata(body)

    def _patch(self, req: Request, caller: Caller, incident_id: int) -> Response:
        if "application/json" not in req.header("Content-Type").lower():
            return api_error(400, "InvalidRequestBody", "Content-Type must be application/json.")
        try:
            payload = json.loads(req.body or b"null")
        except ValueError:
            return api_error(400, "InvalidRequestBody", "The request body is not valid JSON.")
        problem = _patch_problem(payload)
        if problem:
            return api_error(400, "InvalidRequestBody", problem)
        core = self.core
        fields = dict(payload)
        if "comment" in fields:
            fields["comment"] = (fields["comment"], core.knobs.app_name)
        with core.lock:
            store = core.stores[caller.tenant_id]
            rec = store.by_id.get(incident_id)
            if rec is None:
                return self._not_found(incident_id)
            store.apply(rec, fields, core.clock.ticks())
        body = self._entity_body(caller, incident_id)
        assert body is not None
        return self._odata(body)

    def _hunt(self, req: Request, caller: Caller) -> Response:
        try:
            payload = json.loads(req.body or b"null")
        except ValueError:
            return api_error(400, "InvalidRequestBody", "The request body is not valid JSON.")
        if not isinstance(payload, dict) or not isinstance(payload.get("Query"), str):
            return api_error(400, "MissingRequiredParameter", "Query is a required parameter.")
        core = self.core
        with core.lock:
            store = core.stores[caller.tenant_id]
            try:
                result = hunting.run(payload["Query"], store, core.clock.ticks())
            except hunting.HuntingError as exc:
                return api_error(400, "BadRequest", str(exc))
        resp = json_response(200, result)
        resp.headers.extend(_API_HEADERS)
        return resp


def ordered_rows(
    rows: list[IncidentRecord], order: str, request_key: tuple[object, ...]
) -> list[IncidentRecord]:
    """Matching rows in the order knob `list_order` asks for (§5.1).

    `rows` arrive in the store's order (createdTime desc, then incidentId desc): returned as
    they are for "created_desc", reversed for "created_asc", and for "unstable" as a
    permutation seeded by `request_key` (seed, tenant, data version, filter, $top, $skip) so
    one request never repeats or drops a row and the same request gets the same page, while
    the pages of one $skip walk do not agree on an order (see `Knobs`).
    """
    if order == "created_asc":
        return rows[::-1]
    if order == "unstable":
        shuffled = list(rows)
        random.Random(repr(request_key)).shuffle(shuffled)
        return shuffled
    return rows


def _deflated_page(
    store: TenantStore, page: list[IncidentRecord], live: bool, tail: bytes
) -> bytes:
    """The list page as a zlib stream joined from cached per-incident pieces."""
    joiner = ZlibJoiner()
    joiner.add(_LIST_PREFIX_PIECE)
    for i, rec in enumerate(page):
        if i:
            joiner.add(_COMMA_PIECE)
        joiner.add(store.piece(rec, live))
    joiner.add_plain(tail)
    return joiner.finish()


def _patch_problem(payload: Any) -> str | None:
    """Why a PATCH body is invalid (§6 emulator choice), or None."""
    if not isinstance(payload, dict):
        return "The request body must be a JSON object."
    unknown = sorted(set(payload) - _PATCH_FIELDS)
    if unknown:
        return f"Unknown property '{unknown[0]}'. Property names are case-sensitive."
    checks: dict[str, tuple[str, ...]] = {
        "status": INCIDENT_STATUSES,
        "classification": PATCH_CLASSIFICATIONS,
        "determination": PATCH_DETERMINATIONS,
    }
    for key, allowed in checks.items():
        if key in payload and payload[key] not in allowed:
            return f"Invalid value '{payload[key]}' for property '{key}'."
    if "assignedTo" in payload and not isinstance(payload["assignedTo"], (str, type(None))):
        return "Property 'assignedTo' must be a string."
    tags = payload.get("tags", [])
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        return "Property 'tags' must be an array of strings."
    if "comment" in payload and not isinstance(payload["comment"], str):
        return "Property 'comment' must be a string."
    return None
