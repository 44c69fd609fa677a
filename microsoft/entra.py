"""Entra ID client: client-credential tokens with MSAL, tenant discovery, admin-consent URLs.

Contract references: §2 (consent links), §3 (token requests and errors), §4 (claims,
discovery), §10 (MSAL behaviour). One ``msal.ConfidentialClientApplication`` per tenant
(authority ``AZURE_AUTHORITY_HOST/<tenant id>``, ``instance_discovery=False`` so no call ever
goes to a host other than the configured authority) is built once per process and reused;
its token cache is shared across processes through ``microsoft.token_cache``.

"Try again later" answers are not tenant failures: MSAL raises only for status >= 500 (§10.2),
so Entra ID's throttling (HTTP 429, ``temporarily_unavailable`` AADSTS90055) and its
``server_error``/``temporarily_unavailable`` codes on other statuses arrive as error dicts;
they become ThrottledError (with Retry-After) or TransientError, never a TokenError that would
take the customer out of CONNECTED.
"""

from __future__ import annotations

import logging
import os
import threading
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit

import jwt
import msal
import msal.exceptions
import requests
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from microsoft import errors, token_cache
from microsoft.credentials import client_credential
from microsoft.http import build_session, http_date, parse_retry_after, timeouts

logger = logging.getLogger(__name__)

# The Defender XDR API's Entra resource app ("Microsoft Threat Protection", contract §1).
DEFENDER_RESOURCE_APP_ID = "8ee8fdad-f234-4243-8f3b-15c294843740"

_apps: dict[str, msal.ConfidentialClientApplication] = {}
_apps_lock = threading.Lock()
# The process that built ``_apps`` and ``_session`` (a forked worker child starts afresh).
_owner_pid = os.getpid()
_session: requests.Session | None = None

# Entra ID's "try again later" answers (§2.1 lists the OAuth codes; the AADSTS numbers are what
# Entra ID and the emulator send): throttling (90055, HTTP 429) and service trouble (50000
# server_error, 90033 temporarily_unavailable).
_THROTTLED_AADSTS = frozenset({90055})
_TRANSIENT_AADSTS = frozenset({50000, 90033})
_TRANSIENT_ERRORS = frozenset({"temporarily_unavailable", "server_error"})
# Seconds to wait after a throttled token request whose reply has no readable Retry-After
# (the same default as the Defender API's 429, contract §9; MSAL's own is 5 s, §10.4).
TOKEN_RETRY_AFTER_DEFAULT = 60.0


class _LastReply(threading.local):
    """This thread's last HTTP reply from Entra ID on the MSAL session: MSAL's error dicts keep
    neither the status nor the headers, which tell a throttled request from a refused one."""

    status: int | None = None
    retry_after: str | None = None
    date: str | None = None

    def clear(self) -> None:
        """Forget the last reply (before a new request)."""
        self.status = self.retry_after = self.date = None


_last_reply = _LastReply()


def _note_reply(response: requests.Response, *args: Any, **kwargs: Any) -> None:
    """requests response hook on the MSAL session: remember status, Retry-After and Date."""
    _last_reply.status = response.status_code
    _last_reply.retry_after = response.headers.get("Retry-After")
    _last_reply.date = response.headers.get("Date")


def _retry_after_seconds() -> float:
    """Seconds from the last reply's Retry-After (clamped to [1, 3600]), else the default."""
    return parse_retry_after(
        _last_reply.retry_after,
        default=TOKEN_RETRY_AFTER_DEFAULT,
        now=http_date(_last_reply.date),
    )


def _check_fork() -> None:
    """Drop apps and the session inherited from a parent process (prefork workers)."""
    global _owner_pid, _session
    if _owner_pid != os.getpid():
        with _apps_lock:
            _apps.clear()
            _session = None
            _owner_pid = os.getpid()


def _http_session() -> requests.Session:
    """The process's keep-alive session shared by its MSAL apps (explicit CA bundle, §10.5)."""
    global _session
    if _session is None:
        _session = build_session()
        _session.hooks["response"].append(_note_reply)
    return _session


@dataclass(frozen=True)
class AccessToken:
    """A client-credential access token and its decoded (unverified) claims.

    ``token`` is excluded from repr so it never lands in a log line or traceback.
    ``from_cache`` is True when MSAL served it from the (shared) token cache.
    """

    token: str = field(repr=False)
    tenant_id: str
    claims: dict[str, Any] = field(repr=False)
    from_cache: bool
    expires_in: int

    @property
    def roles(self) -> list[str]:
        """App roles granted in the customer tenant (the ``roles`` claim; absent = none)."""
        roles = self.claims.get("roles") or []
        return [str(r) for r in roles]


def defender_scope() -> str:
    """The client-credentials scope for the Defender API: ``<resource>/.default`` (§3.1)."""
    return f"{settings.DEFENDER_API_RESOURCE.rstrip('/')}/.default"


def accepted_audiences() -> set[str]:
    """``aud`` values a Defender API token may carry: the App ID URI or the resource app ID."""
    resource = settings.DEFENDER_API_RESOURCE.rstrip("/")
    return {resource, resource + "/", DEFENDER_RESOURCE_APP_ID}


def normalize_tenant_id(value: str) -> str:
    """Lowercased canonical GUID; raises ValueError if ``value`` is not a GUID (§2.4)."""
    return str(uuid.UUID(value.strip()))


def _build_app(tenant_id: str) -> msal.ConfidentialClientApplication:
    """A new MSAL app for ``tenant_id``; the constructor fetches OIDC discovery (§10.1).

    The credential is loaded before the constructor's ``try``: only discovery's ValueError
    means "tenant not found"; an unusable credential is ImproperlyConfigured.
    """
    if not settings.AZURE_CLIENT_ID:
        raise ImproperlyConfigured("Set AZURE_CLIENT_ID")
    credential = client_credential()
    session = _http_session()
    _last_reply.clear()
    try:
        return msal.ConfidentialClientApplication(
            settings.AZURE_CLIENT_ID,
            client_credential=credential,
            authority=f"{settings.AZURE_AUTHORITY_HOST}/{tenant_id}",
            instance_discovery=False,
            http_client=session,
            token_cache=msal.SerializableTokenCache(),
            timeout=timeouts(),
        )
    except ValueError as exc:
        # 4xx from discovery: MSAL says "Unable to get authority configuration" (§10.1). A 429
        # is Entra ID throttling discovery, not a missing tenant.
        if _last_reply.status == 429:
            seconds = _retry_after_seconds()
            raise errors.ThrottledError(
                f"Entra ID is throttling requests for this tenant; try again in {seconds:.0f} s.",
                retry_after=seconds,
                code="discovery_429",
            ) from None
        raise errors.TenantNotFoundError(
            f"Tenant {tenant_id} was not found by Entra ID.", aadsts=90002, error="invalid_tenant"
        ) from exc
    except (
        requests.ConnectionError,
        requests.Timeout,
        requests.HTTPError,
        msal.exceptions.MsalServiceError,
    ) as exc:
        raise errors.TransientError(
            f"Entra ID discovery failed: {type(exc).__name__}", code="discovery"
        ) from None


def _app_for(tenant_id: str, *, fresh: bool) -> msal.ConfidentialClientApplication:
    _check_fork()
    if fresh:
        return _build_app(tenant_id)
    with _apps_lock:
        app = _apps.get(tenant_id)
    if app is None:
        app = _build_app(tenant_id)
        with _apps_lock:
            app = _apps.setdefault(tenant_id, app)
    return app


def discard_app(tenant_id: str) -> None:
    """Forget this process's MSAL app for ``tenant_id`` (its throttle cache goes with it, §10.4)."""
    with _apps_lock:
        _apps.pop(tenant_id, None)


def _raise_for_error(result: dict[str, Any], tenant_id: str, *, status: int | None = None) -> None:
    """Map an MSAL error dict (§3.3) to a classified error; ``status`` is the reply's HTTP
    status when known (None when MSAL replayed a cached error).

    HTTP 429 or AADSTS90055 → ThrottledError (``retry_after`` from the reply's Retry-After,
    else TOKEN_RETRY_AFTER_DEFAULT); ``temporarily_unavailable``/``server_error`` or
    AADSTS50000/90033 → TransientError; the rest → a TokenError subclass (§3.4).
    """
    codes = result.get("error_codes") or []
    try:
        aadsts = int(codes[0]) if codes else None
    except (TypeError, ValueError):
        aadsts = None
    error = str(result.get("error", ""))
    description = str(result.get("error_description", "")).split("\r\n")[0].split(" Trace ID:")[0]
    if status == 429 or aadsts in _THROTTLED_AADSTS:
        seconds = _retry_after_seconds()
        raise errors.ThrottledError(
            f"Entra ID is throttling token requests for this tenant; try again in {seconds:.0f} s.",
            retry_after=seconds,
            code=f"AADSTS{aadsts}" if aadsts else "token_429",
        )
    if error in _TRANSIENT_ERRORS or aadsts in _TRANSIENT_AADSTS:
        raise errors.TransientError(
            f"Entra ID could not issue a token just now ({description or error}); try again later.",
            code=f"AADSTS{aadsts}" if aadsts else "token_unavailable",
        )
    if aadsts == 7000229:
        raise errors.ConsentMissingError(
            "The portal's application has no service principal in this tenant: admin consent "
            "was never given or the enterprise application was deleted. Send a new consent link.",
            aadsts=aadsts,
            error=error,
        )
    if aadsts == 90002:
        raise errors.TenantNotFoundError(
            f"Tenant {tenant_id} was not found by Entra ID.", aadsts=aadsts, error=error
        )
    if aadsts == 700016:
        raise errors.AppCredentialsError(
            "Entra ID does not know the portal's application (client ID) in this tenant. "
            "Check AZURE_CLIENT_ID and that the application is multi-tenant.",
            aadsts=aadsts,
            error=error,
        )
    if aadsts in (7000215, 7000222, 700027, 7000218) or error == "invalid_client":
        reason = {
            7000215: "the client secret is wrong (use the secret's value, not its ID)",
            7000222: "the client secret has expired",
            700027: "the certificate assertion was rejected",
            7000218: "no client credential was sent",
        }.get(aadsts or 0, "the application's credentials were rejected")
        raise errors.AppCredentialsError(
            f"Entra ID refused the portal's credentials: {reason}.", aadsts=aadsts, error=error
        )
    raise errors.TokenError(
        description or f"Entra ID refused the token request ({error}).", aadsts=aadsts, error=error
    )


def decode_claims(token: str) -> dict[str, Any]:
    """Claims of an access token, not verified (the API verifies; §4: tokens are opaque to
    clients). Used only to check ``tid``, ``aud`` and ``roles``. Raises TokenClaimsError."""
    try:
        return dict(jwt.decode(token, options={"verify_signature": False}))
    except jwt.PyJWTError:
        raise errors.TokenClaimsError("The access token is not a readable JWT.") from None


def get_token(tenant_id: str, *, fresh: bool = False) -> AccessToken:
    """A Defender API access token for ``tenant_id`` (client credentials, §3).

    Served from the shared per-tenant cache when a valid token exists (MSAL's 5-minute margin);
    otherwise one process requests a new one while the others wait on the tenant lock. The
    ``tid`` claim must equal ``tenant_id`` and ``aud`` must be the Defender API.

    ``fresh=True`` builds a new MSAL app and bypasses the shared cache (used to re-check consent,
    where a cached token or MSAL's cached 400 would hide a change, §10.4).

    Raises ConsentMissingError, TenantNotFoundError, AppCredentialsError, TokenError,
    TokenClaimsError, TransientError (network, 5xx, ``temporarily_unavailable``/
    ``server_error``) or ThrottledError (Entra ID answered 429 / AADSTS90055; ``retry_after``
    from its Retry-After, clamped to [1, 3600] s, else TOKEN_RETRY_AFTER_DEFAULT).
    """
    tenant_id = normalize_tenant_id(tenant_id)
    app = _app_for(tenant_id, fresh=fresh)
    cache: msal.SerializableTokenCache = app.token_cache  # type: ignore[assignment]
    try:
        with token_cache.tenant_lock(tenant_id):
            if not fresh:
                token_cache.load_into(tenant_id, cache)
            _last_reply.clear()
            result = app.acquire_token_for_client(scopes=[defender_scope()])
            if "access_token" in result:
                token_cache.save_from(tenant_id, cache)
    except (requests.ConnectionError, requests.Timeout) as exc:
        raise errors.TransientError(
            f"Entra ID token endpoint unreachable: {type(exc).__name__}", code="token_network"
        ) from None
    except requests.HTTPError as exc:  # MSAL raises on status >= 500 (§10.2)
        status = exc.response.status_code if exc.response is not None else "?"
        raise errors.TransientError(
            f"Entra ID token endpoint failed: HTTP {status}", code="token_5xx"
        ) from None
    except msal.exceptions.MsalServiceError as exc:
        # The same 5xx replayed from MSAL's throttle cache for its Retry-After (§10.4).
        raise errors.TransientError(
            f"Entra ID token endpoint failed: {exc.args[0] if exc.args else 'HTTP 5xx'}",
            code="token_5xx",
        ) from None
    except token_cache.TokenLockTimeout as exc:
        raise errors.TransientError(str(exc), code="token_lock") from None
    if "access_token" not in result:
        discard_app(tenant_id)
        _raise_for_error(result, tenant_id, status=_last_reply.status)
    token = str(result["access_token"])
    claims = decode_claims(token)
    if str(claims.get("tid", "")).lower() != tenant_id:
        token_cache.forget(tenant_id)
        discard_app(tenant_id)
        raise errors.TokenClaimsError(
            f"Entra ID issued a token for tenant {claims.get('tid')!r}, not {tenant_id}.",
            code="tid_mismatch",
        )
    if str(claims.get("aud", "")) not in accepted_audiences():
        raise errors.TokenClaimsError(
            f"The token's audience {claims.get('aud')!r} is not the Defender API.",
            code="aud_mismatch",
        )
    source = result.get("token_source")
    logger.info(
        "token tenant=%s source=%s expires_in=%s", tenant_id, source, result.get("expires_in")
    )
    return AccessToken(
        token=token,
        tenant_id=tenant_id,
        claims=claims,
        from_cache=source == "cache",
        expires_in=int(result.get("expires_in", 0)),
    )


def invalidate_token(tenant_id: str) -> None:
    """Drop the tenant's cached token everywhere (after a 401 from the API, §9)."""
    tenant_id = normalize_tenant_id(tenant_id)
    token_cache.forget(tenant_id)
    with _apps_lock:
        app = _apps.get(tenant_id)
    if app is not None:
        app.remove_tokens_for_client()


def resolve_tenant_id(tenant_or_domain: str) -> str:
    """The tenant GUID for a GUID or verified domain, from OIDC discovery (§4).

    ``GET {authority host}/{domain}/v2.0/.well-known/openid-configuration``; the GUID is the
    first path segment of ``token_endpoint``. Raises TenantNotFoundError (400/404, AADSTS90002),
    TransientError (network, 429, 5xx) or BadResponseError (unexpected document).
    """
    value = tenant_or_domain.strip().lower()
    try:
        return normalize_tenant_id(value)
    except ValueError:
        pass
    if not value or "/" in value or "?" in value or "#" in value or " " in value:
        raise errors.TenantNotFoundError(f"{tenant_or_domain!r} is not a domain.", aadsts=None)
    url = f"{settings.AZURE_AUTHORITY_HOST}/{value}/v2.0/.well-known/openid-configuration"
    session = build_session(pool_maxsize=1)
    try:
        response = session.get(url, timeout=timeouts())
    except (requests.ConnectionError, requests.Timeout) as exc:
        raise errors.TransientError(
            f"Entra ID discovery unreachable: {type(exc).__name__}", code="discovery"
        ) from None
    finally:
        session.close()
    if response.status_code >= 500 or response.status_code == 429:
        raise errors.TransientError(
            f"Entra ID discovery failed: HTTP {response.status_code}", code="discovery"
        )
    if response.status_code != 200:
        raise errors.TenantNotFoundError(
            f"No Entra ID tenant was found for the domain {value!r}.",
            aadsts=90002,
            error="invalid_tenant",
        )
    try:
        endpoint = str(response.json()["token_endpoint"])
        return normalize_tenant_id(urlsplit(endpoint).path.strip("/").split("/")[0])
    except (ValueError, KeyError, TypeError):
        raise errors.BadResponseError(
            "Entra ID's discovery document has no usable token_endpoint."
        ) from None


def admin_consent_url(*, state: str, redirect_uri: str) -> str:
    """The v2 admin-consent URL (§2.3): ``/organizations/v2.0/adminconsent`` with client_id,
    scope ``<Defender API>/.default``, the registered redirect_uri and state."""
    query = urlencode(
        {
            "client_id": settings.AZURE_CLIENT_ID,
            "scope": defender_scope(),
            "redirect_uri": redirect_uri,
            "state": state,
        }
    )
    return f"{settings.AZURE_AUTHORITY_HOST}/organizations/v2.0/adminconsent?{query}"


def legacy_consent_url() -> str:
    """The v1 consent link from Microsoft's partner documentation (§2.1). Entra returns the
    administrator to a registered reply URL without the tenant ID, so the MSSP enters it."""
    query = urlencode(
        {
            "prompt": "consent",
            "client_id": settings.AZURE_CLIENT_ID,
            "response_type": "code",
            "sso_reload": "true",
        }
    )
    return f"{settings.AZURE_AUTHORITY_HOST}/common/oauth2/authorize?{query}"
