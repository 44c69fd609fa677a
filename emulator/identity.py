"""Identity platform endpoints (§3, §4): OIDC discovery, JWKS, instance discovery and the
v1/v2 client-credentials token endpoints, with errors in the §3.3 envelope."""

from __future__ import annotations

import base64
import uuid
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from . import entra_errors as E
from .constants import JWT_BEARER, LOGIN_HOST, TENANT_KEYWORDS, find_resource
from .directory import TenantRecord
from .httpio import Request, Response, json_response
from .tokens import AccessTokenRequest, AssertionRejected, verify_client_assertion

if TYPE_CHECKING:
    from .core import EmulatorCore

#: Path shapes after the tenant segment -> (log kind, handler name).
ROUTES: dict[tuple[str, ...], tuple[str, str]] = {
    ("v2.0", ".well-known", "openid-configuration"): ("discovery", "discovery_v2"),
    (".well-known", "openid-configuration"): ("discovery", "discovery_v1"),
    ("discovery", "v2.0", "keys"): ("discovery", "keys_v2"),
    ("discovery", "keys"): ("discovery", "keys_v1"),
    ("discovery", "instance"): ("discovery", "instance"),
    ("oauth2", "v2.0", "token"): ("token", "token_v2"),
    ("oauth2", "token"): ("token", "token_v1"),
    ("v2.0", "adminconsent"): ("consent", "v2"),
    ("adminconsent",): ("consent", "adminconsent"),
    ("oauth2", "authorize"): ("consent", "v1"),
}
_TOKEN_HEADERS = [
    ("Cache-Control", "no-store, no-cache"),
    ("Pragma", "no-cache"),
    ("Expires", "-1"),
    ("Strict-Transport-Security", "max-age=31536000; includeSubDomains"),
    ("X-Content-Type-Options", "nosniff"),
    ("x-ms-ests-server", "2.1.19999.8 - EUS ProdSlices"),
]
_CLAIMS = ["sub", "iss", "aud", "exp", "iat", "auth_time", "acr", "nonce", "tid", "ver", "oid"]


#: Members of the v2 OIDC document that the v1 document lacks.
_V2_ONLY_MEMBERS = (
    "request_uri_parameter_supported",
    "userinfo_endpoint",
    "device_authorization_endpoint",
    "http_logout_supported",
    "frontchannel_logout_supported",
    "kerberos_endpoint",
    "rbac_url",
)


def discovery_document(base: str, seg: str, *, v2: bool) -> dict[str, Any]:
    """The OIDC discovery document for path tenant `seg` (GUID or keyword) on host `base` (§4).

    v2: endpoints under `/oauth2/v2.0`, JWKS `/discovery/v2.0/keys`, issuer
    `{base}/{tid}/v2.0`. v1: `/oauth2`, `/discovery/keys`, issuer `https://sts.windows.net/{tid}/`
    (as in v1 tokens) and fewer members. `common`/`organizations` keep `{tenantid}` literally in
    the issuer. Member order is the wire order.
    """
    ver = "/v2.0" if v2 else ""
    oauth = f"{base}/{seg}/oauth2{ver}"
    iss_tenant = "{tenantid}" if seg in TENANT_KEYWORDS else seg
    doc: dict[str, Any] = {
        "token_endpoint": f"{oauth}/token",
        "token_endpoint_auth_methods_supported": [
            "client_secret_post",
            "private_key_jwt",
            "client_secret_basic",
        ],
        "jwks_uri": f"{base}/{seg}/discovery{ver}/keys",
        "response_modes_supported": ["query", "fragment", "form_post"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "response_types_supported": [
            "code",
            "id_token",
            "code id_token",
            "id_token token" if v2 else "token id_token",
        ],
        "scopes_supported": ["openid", "profile", "email", "offline_access"] if v2 else ["openid"],
        "issuer": f"{base}/{iss_tenant}/v2.0" if v2 else f"https://sts.windows.net/{iss_tenant}/",
        "request_uri_parameter_supported": False,
        "userinfo_endpoint": "https://graph.microsoft.com/oidc/userinfo",
        "authorization_endpoint": f"{oauth}/authorize",
        "device_authorization_endpoint": f"{oauth}/devicecode",
        "http_logout_supported": True,
        "frontchannel_logout_supported": True,
        "end_session_endpoint": f"{oauth}/logout",
        "claims_supported": _CLAIMS,
        "kerberos_endpoint": f"{base}/{seg}/kerberos",
        "tenant_region_scope": "EU",
        "cloud_instance_name": "microsoftonline.com",
        "cloud_graph_host_name": "graph.windows.net",
        "msgraph_host": "graph.microsoft.com",
        "rbac_url": "https://pas.windows.net",
    }
    if not v2:
        for member in _V2_ONLY_MEMBERS:
            del doc[member]
    return doc


def match_route(path: str) -> tuple[str, str, str] | None:
    """(kind, handler, path tenant) for an identity path, else None."""
    parts = tuple(p for p in path.split("/") if p)
    if len(parts) < 2:
        return None
    hit = ROUTES.get(parts[1:])
    return (hit[0], hit[1], parts[0]) if hit else None


class IdentityService:
    """Discovery, JWKS and token handlers. Every reply carries the §3.2 headers."""

    def __init__(self, core: EmulatorCore) -> None:
        self.core = core

    # -- helpers ---------------------------------------------------------------------------
    def entra_error(self, req: Request, err: E.EntraError) -> Response:
        """`err` in the §3.3 envelope; correlation_id echoes `client-request-id` when sent."""
        trace = str(uuid.uuid4())
        corr = req.header("client-request-id") or str(uuid.uuid4())
        body = E.token_error_body(
            err,
            now=self.core.clock.now(),
            correlation_id=corr,
            trace_id=trace,
            separator=self.core.knobs.description_separator(),
        )
        return self._json(req, err.status, body, trace)

    def _json(self, req: Request, status: int, body: Any, trace: str | None = None) -> Response:
        resp = json_response(status, body)
        resp.headers.extend(_TOKEN_HEADERS)
        resp.headers.append(("x-ms-request-id", trace or str(uuid.uuid4())))
        if req.header("client-request-id"):
            resp.headers.append(("client-request-id", req.header("client-request-id")))
        return resp

    def _tenant(self, path_tenant: str) -> TenantRecord | None:
        with self.core.lock:
            return self.core.directory.resolve(path_tenant)

    # -- discovery ---------------------------------------------------------------------------
    def discovery_v2(self, req: Request, path_tenant: str) -> Response:
        """v2 OIDC document; endpoints carry the tenant GUID even for a domain path (§4)."""
        return self._discovery(req, path_tenant, v2=True)

    def discovery_v1(self, req: Request, path_tenant: str) -> Response:
        """v1 OIDC document (issuer `https://sts.windows.net/{tid}/`, as in v1 tokens)."""
        return self._discovery(req, path_tenant, v2=False)

    def _discovery(self, req: Request, path_tenant: str, *, v2: bool) -> Response:
        """The OIDC document of either version (§4); unknown tenant -> 400 AADSTS90002."""
        seg = self._discovery_segment(path_tenant)
        if seg is None:
            return self.entra_error(req, E.tenant_not_found(path_tenant, discovery=True))
        return self._json(req, 200, discovery_document(req.base_url, seg, v2=v2))

    def _discovery_segment(self, path_tenant: str) -> str | None:
        if path_tenant.lower() in TENANT_KEYWORDS:
            return path_tenant.lower()
        tenant = self._tenant(path_tenant)
        return tenant.tenant_id if tenant else None

    def keys_v2(self, req: Request, path_tenant: str) -> Response:
        """JWKS with `issuer` per key (§4); `common` keeps `{tenantid}` literally."""
        seg = self._discovery_segment(path_tenant)
        if seg is None:
            return self.entra_error(req, E.tenant_not_found(path_tenant, discovery=True))
        iss_tenant = "{tenantid}" if seg in TENANT_KEYWORDS else seg
        return self._json(req, 200, self.core.tokens.jwks(f"{req.base_url}/{iss_tenant}/v2.0"))

    def keys_v1(self, req: Request, path_tenant: str) -> Response:
        """v1 JWKS (no `issuer` member)."""
        if self._discovery_segment(path_tenant) is None:
            return self.entra_error(req, E.tenant_not_found(path_tenant, discovery=True))
        return self._json(req, 200, self.core.tokens.jwks(None))

    def instance(self, req: Request, path_tenant: str) -> Response:
        """`/common/discovery/instance` (MSAL instance discovery, §10.1) for this host."""
        auth = urlsplit(req.query.get("authorization_endpoint", ""))
        parts = [p for p in auth.path.split("/") if p]
        tenant = parts[0] if parts else "common"
        host = req.host.split(":")[0]
        discovery = f"{req.base_url}/{tenant}/v2.0/.well-known/openid-configuration"
        metadata = [{"preferred_network": host, "preferred_cache": host, "aliases": [host]}]
        body = {"tenant_discovery_endpoint": discovery, "api-version": "1.1", "metadata": metadata}
        return self._json(req, 200, body)

    # -- token -------------------------------------------------------------------------------
    def token_v2(self, req: Request, path_tenant: str) -> Response:
        """`POST /{tenant}/oauth2/v2.0/token` (§3.1); ints in the reply, no scope (§3.2)."""
        return self._token(req, path_tenant, v1=False)

    def token_v1(self, req: Request, path_tenant: str) -> Response:
        """`POST /{tenant}/oauth2/token` with `resource=` (§3.1); numbers as strings (§3.2)."""
        return self._token(req, path_tenant, v1=True)

    def _token(self, req: Request, path_tenant: str, *, v1: bool) -> Response:
        if req.method != "POST":
            return self.entra_error(
                req,
                E.EntraError(
                    "invalid_request", 900561, 400, "The endpoint only accepts POST requests."
                ),
            )
        try:
            return self._issue(req, path_tenant, v1)
        except E.EntraError as err:
            return self.entra_error(req, err)

    def _issue(self, req: Request, path_tenant: str, v1: bool) -> Response:
        core, now, form = self.core, self.core.clock.now(), req.form()
        # Check order: tenant -> client -> credential -> SP -> scope -> resource (§11.2).
        if path_tenant.lower() in TENANT_KEYWORDS:
            raise E.tenant_keyword_not_supported()
        tenant = self._tenant(path_tenant)
        if tenant is None:
            raise E.tenant_not_found(path_tenant)
        client_id, secret = form.get("client_id", ""), form.get("client_secret")
        basic = req.header("Authorization")
        if basic[:6].lower() == "basic ":
            try:
                user, _, pwd = base64.b64decode(basic[6:]).decode().partition(":")
            except ValueError:
                user = pwd = ""
            client_id, secret = client_id or unquote(user), secret or unquote(pwd)
        if not client_id:
            raise E.missing_parameter("client_id")
        app = core.app
        if client_id.lower() != app.client_id:
            raise E.app_not_found(client_id, tenant.tenant_id)
        grant = form.get("grant_type")
        if not grant:
            raise E.missing_parameter("grant_type")
        if grant != "client_credentials":
            raise E.unsupported_grant_type(grant)
        auth_type = self._credential(req, form, secret, tenant, path_tenant, now)
        with core.lock:
            propagating = now < tenant.consented_at + core.knobs.consent_propagation_seconds
            if not tenant.sp_exists or propagating:
                raise E.missing_service_principal(app.client_id, tenant.tenant_id)
            roles_held = list(tenant.roles)
        identifier = self._requested_resource(form, v1)
        resource = find_resource(identifier)
        if resource is None:
            raise E.resource_not_found(identifier, tenant.name)
        expires_in = int(core.knobs.token_expires_in)
        # v1 `aud`: the App ID URI as requested or the resource's client ID (§4; knob token_aud).
        audience = resource.app_id if core.knobs.token_aud == "app_id" else identifier.rstrip("/")
        token = core.tokens.issue(
            AccessTokenRequest(
                tenant_id=tenant.tenant_id,
                client_id=app.client_id,
                sp_oid=tenant.sp_oid,
                audience=audience,
                roles=tuple(r for r in roles_held if r in resource.roles),
                auth_type=auth_type,
                now=now,
                expires_in=expires_in,
            )
        )
        body: dict[str, Any]
        if v1:
            body = {
                "token_type": "Bearer",
                "expires_in": str(expires_in),
                "ext_expires_in": str(expires_in),
                "expires_on": str(int(now) + expires_in),
                "not_before": str(int(now)),
                "resource": identifier,
                "access_token": token,
            }
        else:
            body = {
                "token_type": "Bearer",
                "expires_in": expires_in,
                "ext_expires_in": expires_in,
                "access_token": token,
            }
        return self._json(req, 200, body)

    def _credential(
        self,
        req: Request,
        form: dict[str, str],
        secret: str | None,
        tenant: TenantRecord,
        path_tenant: str,
        now: float,
    ) -> str:
        """Validate the client secret or certificate assertion; returns appidacr "1" / "2"."""
        app = self.core.app
        assertion = form.get("client_assertion")
        if secret:
            if secret != app.client_secret:
                raise E.invalid_secret(app.client_id)
            if app.secret_expired:
                raise E.expired_secret(app.client_id)
            return "1"
        if assertion:
            if form.get("client_assertion_type") != JWT_BEARER:
                raise E.bad_assertion(
                    "The client_assertion_type parameter must be "
                    "'urn:ietf:params:oauth:client-assertion-type:jwt-bearer'."
                )
            audiences = {
                f"{host}/{t}{suffix}"
                for host in (req.base_url, LOGIN_HOST)
                for t in (path_tenant, tenant.tenant_id, tenant.domain)
                for suffix in ("/oauth2/v2.0/token", "/oauth2/token")
            }
            try:
                verify_client_assertion(
                    assertion,
                    client_id=app.client_id,
                    certificate=self.core.keys.client,
                    audiences=audiences,
                    now=now,
                )
            except AssertionRejected as exc:
                raise (
                    E.bad_assertion(str(exc))
                    if exc.code == 700027
                    else E.EntraError("invalid_client", exc.code, 401, str(exc))
                ) from exc
            return "2"
        raise E.no_credential()

    @staticmethod
    def _requested_resource(form: dict[str, str], v1: bool) -> str:
        if v1:
            resource = form.get("resource", "").strip()
            if not resource:
                raise E.missing_parameter("resource")
            return resource
        if "resource" in form:
            raise E.resource_on_v2()
        scope = form.get("scope", "").strip()
        if not scope:
            raise E.missing_parameter("scope")
        items = scope.split()
        if len(items) > 1:
            raise E.scopes_span_resources(scope)
        if not items[0].endswith("/.default"):
            raise E.scope_without_default(items[0])
        return items[0][: -len("/.default")]
