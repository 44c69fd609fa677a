"""HTTP admin endpoints under `/_emulator/` (JSON, header `X-Emulator-Key: <client_secret>`).

GET state | POST knobs | POST tenants/<tid>/state {"state", "roles"?} |
POST tenants/<tid>/incidents {overrides} | POST tenants/<tid>/incidents/<id> {fields} |
POST faults {kind, tenant_id?, path_prefix?, count?, after?, retry_after?, delay?} |
POST churn {"steps"?} | GET requests | POST requests/clear | POST reset |
POST redirect-uris {"uri"} | POST secret-expired {"expired"}.
"""

from __future__ import annotations

import hmac
import json
from typing import TYPE_CHECKING, Any

from .faults import Fault
from .httpio import Request, Response, json_response

if TYPE_CHECKING:
    from .core import EmulatorCore


class AdminError(Exception):
    """A 4xx answer from an admin endpoint."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class AdminApi:
    """Admin endpoint handlers; see the module docstring for the routes."""

    def __init__(self, core: EmulatorCore) -> None:
        self.core = core

    def handle(self, req: Request) -> Response:
        """Authenticate with X-Emulator-Key and route; errors come back as {"error": message}."""
        key = req.header("X-Emulator-Key")
        if not hmac.compare_digest(key.encode(), self.core.app.client_secret.encode()):
            return json_response(401, {"error": "missing or wrong X-Emulator-Key"})
        parts = [p for p in req.path.split("/") if p][1:]
        try:
            body = self._body(req)
            result = self._route(req.method, parts, body)
        except AdminError as exc:
            return json_response(exc.status, {"error": str(exc)})
        except (KeyError, ValueError, TypeError) as exc:
            return json_response(400, {"error": str(exc)})
        return json_response(200, result)

    @staticmethod
    def _body(req: Request) -> dict[str, Any]:
        if not req.body:
            return {}
        data = json.loads(req.body)
        if not isinstance(data, dict):
            raise AdminError(400, "body must be a JSON object")
        return data

    def _route(self, method: str, parts: list[str], body: dict[str, Any]) -> Any:
        core = self.core
        route = (method, *parts[:1])
        if route == ("GET", "state") and len(parts) == 1:
            return self.state()
        if route == ("POST", "knobs"):
            core.knobs.update(body)
            return core.knobs.as_dict()
        if route == ("POST", "tenants") and len(parts) == 3 and parts[2] == "state":
            core.set_tenant_state(parts[1], str(body["state"]), body.get("roles"))
            return self.tenant(parts[1])
        if route == ("POST", "tenants") and len(parts) == 3 and parts[2] == "incidents":
            return core.add_incident(parts[1], body)
        if route == ("POST", "tenants") and len(parts) == 4 and parts[2] == "incidents":
            return core.update_incident(parts[1], int(parts[3]), body)
        if route == ("POST", "faults"):
            allowed = {"kind", "tenant_id", "path_prefix", "count", "after", "retry_after", "delay"}
            unknown = set(body) - allowed
            if unknown:
                raise AdminError(400, f"unknown fault field(s): {sorted(unknown)}")
            return core.faults.add(Fault(**body)).as_dict()
        if route == ("POST", "churn"):
            return core.churn(int(body.get("steps", 1)))
        if route == ("GET", "requests"):
            return list(core.log)
        if route == ("POST", "requests") and parts[1:] == ["clear"]:
            core.log.clear()
            return {"cleared": True}
        if route == ("POST", "reset"):
            core.reset()
            return self.state()
        if route == ("POST", "redirect-uris"):
            uri = str(body["uri"])
            with core.lock:
                if uri not in core.app.redirect_uris:
                    core.app.redirect_uris.append(uri)
                return {"redirect_uris": list(core.app.redirect_uris)}
        if route == ("POST", "secret-expired"):
            core.app.secret_expired = bool(body.get("expired", True))
            return {"secret_expired": core.app.secret_expired}
        raise AdminError(404, f"no admin endpoint {method} /_emulator/{'/'.join(parts)}")

    def tenant(self, tenant_id: str) -> dict[str, Any]:
        """One tenant with roles and current incident count."""
        core = self.core
        with core.lock:
            t = core.directory.get(tenant_id)
            data = t.public()
            data["incidents"] = len(core.stores[t.tenant_id])
            data["roles"] = list(t.roles)
            return data

    def state(self) -> dict[str, Any]:
        """Tenants (with roles and counts), knobs, redirect URIs, pending faults."""
        core = self.core
        with core.lock:
            return {
                "client_id": core.app.client_id,
                "tenants": [self.tenant(t.tenant_id) for t in core.directory.tenants],
                "knobs": core.knobs.as_dict(),
                "redirect_uris": list(core.app.redirect_uris),
                "secret_expired": core.app.secret_expired,
                "faults": core.faults.pending(),
                "requests_logged": len(core.log),
                "prewarm": dict(core.prewarm_status),
            }
