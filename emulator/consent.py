"""Admin consent endpoints (§2): v2 `/{tenant}/v2.0/adminconsent`, `/{tenant}/adminconsent` and
the v1 `/{tenant}/oauth2/authorize?prompt=consent` link. GET shows the consent page; the form
POSTs back to the same URL and gets a 302 to the redirect URI with exactly Microsoft's parameters.
"""

from __future__ import annotations

import secrets
import uuid
from typing import TYPE_CHECKING
from urllib.parse import quote, urlencode

from . import entra_errors as E
from .consent_page import consent_page, error_page
from .constants import find_resource, resource_for_role
from .directory import TenantRecord
from .httpio import Request, Response, html_response, redirect
from .timeutil import entra_timestamp

if TYPE_CHECKING:
    from .core import EmulatorCore

#: flavour -> (redirect must match exactly, tenant keywords that show a picker)
_FLAVOURS = {
    "v2": (True, ("organizations",)),
    "adminconsent": (False, ("common", "organizations")),
    "v1": (False, ("common", "organizations")),
}


class ConsentError(Exception):
    """Shown as an error page, never redirected (bad client, redirect URI or tenant)."""

    def __init__(self, err: E.EntraError) -> None:
        super().__init__(err.message)
        self.err = err


class ConsentService:
    """Serves the three consent flavours: "v2", "adminconsent" and "v1"."""

    def __init__(self, core: EmulatorCore) -> None:
        self.core = core

    def handle(self, req: Request, flavour: str, path_tenant: str) -> Response:
        """GET -> consent page (or error page); POST -> 302 to the redirect URI."""
        if req.method not in ("GET", "POST"):
            return html_response(405, "Method not allowed")
        try:
            client_id, redirect_uri, tenants, fixed = self._validate(req, flavour, path_tenant)
        except ConsentError as exc:
            return self._error_page(exc.err)
        query = req.query
        problem = self._request_problem(query, flavour)
        if problem is not None:
            return redirect(_with_params(redirect_uri, problem))
        if req.method == "GET":
            return html_response(200, self._page(req, client_id, tenants, fixed))
        form = req.form()
        chosen = next((t for t in tenants if t.tenant_id == form.get("tenant", "").lower()), None)
        if chosen is None:
            return self._error_page(E.tenant_not_found(form.get("tenant", ""), discovery=True))
        if form.get("action") != "accept":
            return redirect(_with_params(redirect_uri, self._declined(query, flavour)))
        self.core.grant_consent(chosen.tenant_id)
        return redirect(_with_params(redirect_uri, self._accepted(query, flavour, chosen)))

    def _validate(
        self, req: Request, flavour: str, path_tenant: str
    ) -> tuple[str, str, list[TenantRecord], bool]:
        core = self.core
        exact, picker_keywords = _FLAVOURS[flavour]
        client_id = req.query.get("client_id", "")
        if not client_id:
            raise ConsentError(E.missing_parameter("client_id"))
        keyword = path_tenant.lower()
        with core.lock:
            tenant = core.directory.resolve(path_tenant)
            all_tenants = list(core.directory.tenants)
        if client_id.lower() != core.app.client_id:
            raise ConsentError(E.app_not_found(client_id, tenant.tenant_id if tenant else keyword))
        if flavour == "v2" and keyword == "common":
            raise ConsentError(E.common_not_supported_for_v2_consent(client_id))
        if tenant is None and keyword not in picker_keywords:
            raise ConsentError(E.tenant_not_found(path_tenant, discovery=True))
        redirect_uri = req.query.get("redirect_uri")
        if flavour == "v1" and not redirect_uri:
            redirect_uri = core.app.redirect_uris[0] if core.app.redirect_uris else ""
        if not redirect_uri:
            raise ConsentError(E.missing_parameter("redirect_uri"))
        if not core.app.redirect_allowed(redirect_uri, exact=exact):
            raise ConsentError(E.redirect_mismatch(redirect_uri, client_id))
        if tenant is not None:
            return client_id, redirect_uri, [tenant], True
        return client_id, redirect_uri, all_tenants, False

    def _request_problem(self, query: dict[str, str], flavour: str) -> dict[str, str] | None:
        """Errors that go back to the (valid) redirect URI: scope for v2, response_type for v1."""
        err: E.EntraError | None = None
        error = "invalid_request"
        if flavour == "v2":
            scope = query.get("scope", "")
            if not scope.strip():
                err = E.missing_parameter("scope")
            else:
                for item in scope.split():
                    if item in ("openid", "profile", "email", "offline_access"):
                        continue
                    if not item.endswith("/.default") or not find_resource(
                        item[: -len("/.default")]
                    ):
                        error = "invalid_scope"
                        err = E.EntraError(
                            error,
                            70011,
                            400,
                            f"The provided value for the input parameter 'scope' is not valid. "
                            f"The scope {item} is not valid.",
                        )
                        break
        elif flavour == "v1" and query.get("response_type", "code") != "code":
            error = "unsupported_response_type"
            err = E.EntraError(error, 70005, 400, "The response_type is not supported.")
        if err is None:
            return None
        params = {"error": error, "error_description": self._describe(err)}
        if "state" in query:
            params["state"] = query["state"]
        return params

    def _accepted(
        self, query: dict[str, str], flavour: str, tenant: TenantRecord
    ) -> list[tuple[str, str]]:
        state = [("state", query["state"])] if "state" in query else []
        if flavour == "v2":
            return [
                ("admin_consent", "True"),
                ("tenant", tenant.tenant_id),
                ("scope", query.get("scope", "")),
                *state,
            ]
        if flavour == "adminconsent":
            return [("tenant", tenant.tenant_id), *state, ("admin_consent", "True")]
        code = "1.A" + secrets.token_urlsafe(96)
        return [
            ("code", code),
            ("session_state", str(uuid.uuid4())),
            *state,
            ("admin_consent", "True"),
        ]

    def _declined(self, query: dict[str, str], flavour: str) -> list[tuple[str, str]]:
        description = self._describe(E.consent_declined())
        state = [("state", query["state"])] if "state" in query else []
        if flavour == "v2":
            return [
                ("admin_consent", "True"),
                ("error", "consent_required"),
                ("error_description", description),
                *state,
            ]
        error = "permission_denied" if flavour == "adminconsent" else "access_denied"
        return [("error", error), ("error_description", description), *state]

    def _describe(self, err: E.EntraError) -> str:
        return err.description(str(uuid.uuid4()), str(uuid.uuid4()), self.core.clock.now(), " ")

    def _page(self, req: Request, client_id: str, tenants: list[TenantRecord], fixed: bool) -> str:
        knobs = self.core.knobs
        permissions = []
        for role in knobs.app_permissions:
            res = resource_for_role(role)
            permissions.append(
                (role, res.roles[role] if res else role, res.display_name if res else "")
            )
        action = req.path + ("?" + req.raw_query if req.raw_query else "")
        return consent_page(
            app_name=knobs.app_name,
            client_id=client_id,
            permissions=permissions,
            tenants=[(t.tenant_id, t.name, t.domain) for t in tenants],
            fixed_tenant=fixed,
            action=action,
        )

    def _error_page(self, err: E.EntraError) -> Response:
        now = self.core.clock.now()
        html = error_page(
            err.code, err.message, str(uuid.uuid4()), str(uuid.uuid4()), entra_timestamp(now)
        )
        return html_response(400, html)


def _with_params(uri: str, params: dict[str, str] | list[tuple[str, str]]) -> str:
    """Append query parameters to `uri` (%20 for spaces, like Entra)."""
    sep = "&" if "?" in uri else "?"
    return uri + sep + urlencode(params, quote_via=quote)
