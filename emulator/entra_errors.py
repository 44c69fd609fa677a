"""Entra ID (AADSTS) errors: the token-endpoint JSON envelope (§3.3) and the codes of §3.4.

Each factory returns an `EntraError` carrying the OAuth `error`, the AADSTS number, the HTTP
status (§3.4 / §11.2 choices) and the message; `token_error_body` turns it into the envelope.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from .timeutil import entra_timestamp


@dataclass
class EntraError(Exception):
    """One AADSTS error: `error` (OAuth code), `code` (AADSTS number), HTTP `status`, `message`."""

    error: str
    code: int
    status: int
    message: str

    def description(self, trace_id: str, correlation_id: str, now: float, sep: str) -> str:
        """`AADSTS{n}: {msg}` + Trace ID + Correlation ID + Timestamp joined by `sep` (§3.3)."""
        return sep.join(
            [
                f"AADSTS{self.code}: {self.message}",
                f"Trace ID: {trace_id}",
                f"Correlation ID: {correlation_id}",
                f"Timestamp: {entra_timestamp(now)}",
            ]
        )


def token_error_body(
    err: EntraError,
    *,
    now: float,
    correlation_id: str | None = None,
    trace_id: str | None = None,
    separator: str = "\r\n",
) -> dict[str, Any]:
    """The §3.3 envelope: error, error_description, error_codes, timestamp, trace_id,
    correlation_id, error_uri. `correlation_id` defaults to a new GUID (Entra echoes the
    client's `client-request-id` there). `separator` joins the lines of `error_description`:
    "\\r\\n" or, as some captures show, " " (§3.3; knob `error_description_separator`)."""
    trace_id = trace_id or str(uuid.uuid4())
    correlation_id = correlation_id or str(uuid.uuid4())
    return {
        "error": err.error,
        "error_description": err.description(trace_id, correlation_id, now, separator),
        "error_codes": [err.code],
        "timestamp": entra_timestamp(now),
        "trace_id": trace_id,
        "correlation_id": correlation_id,
        "error_uri": f"https://login.microsoftonline.com/error?code={err.code}",
    }


def tenant_not_found(tenant: str, *, discovery: bool = False) -> EntraError:
    """AADSTS90002; `invalid_tenant` on discovery, `invalid_request` on a token POST (§3.4)."""
    return EntraError(
        "invalid_tenant" if discovery else "invalid_request",
        90002,
        400,
        f"Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are "
        "signing into the correct cloud. Check with your subscription administrator, this may "
        "happen if there are no active subscriptions for the tenant.",
    )


def tenant_keyword_not_supported() -> EntraError:
    """AADSTS9001023: client credentials on /common or /organizations (§11.2)."""
    return EntraError(
        "invalid_request",
        9001023,
        400,
        "The grant type is not supported over the /common or /consumers endpoints. "
        "Please use the /organizations or tenant-specific endpoint.",
    )


def app_not_found(client_id: str, tenant: str) -> EntraError:
    """AADSTS700016: unknown client id (§3.4, §11.4)."""
    return EntraError(
        "unauthorized_client",
        700016,
        400,
        f"Application with identifier '{client_id}' was not found in the directory '{tenant}'. "
        "This can happen if the application has not been installed by the administrator of the "
        "tenant or consented to by any user in the tenant. You may have sent your "
        "authentication request to the wrong tenant.",
    )


def missing_service_principal(client_id: str, tenant_id: str) -> EntraError:
    """AADSTS7000229: no SP for the app in the tenant; HTTP 401 (§3.4, §11.4)."""
    return EntraError(
        "invalid_client",
        7000229,
        401,
        f"The client application {client_id} is missing service principal in the tenant "
        f"{tenant_id}. See instructions here: https://go.microsoft.com/fwlink/?linkid=2225119",
    )


def invalid_secret(client_id: str) -> EntraError:
    """AADSTS7000215: wrong client secret; HTTP 401 (§3.4)."""
    return EntraError(
        "invalid_client",
        7000215,
        401,
        "Invalid client secret provided. Ensure the secret being sent in the request is the "
        f"client secret value, not the client secret ID, for a secret added to app '{client_id}'.",
    )


def expired_secret(client_id: str) -> EntraError:
    """AADSTS7000222: the client secret expired; HTTP 401 (§3.4 choice)."""
    return EntraError(
        "invalid_client",
        7000222,
        401,
        f"The provided client secret keys for app '{client_id}' are expired. Visit the Azure "
        "portal to create new keys for your app: https://aka.ms/NewClientSecret, or consider "
        "using certificate credentials for added security: https://aka.ms/certCreds.",
    )


def no_credential() -> EntraError:
    """AADSTS7000218: neither client_secret nor client_assertion (§3.4)."""
    return EntraError(
        "invalid_request",
        7000218,
        400,
        "The request body must contain the following parameter: 'client_assertion' or "
        "'client_secret'.",
    )


def missing_parameter(name: str) -> EntraError:
    """AADSTS900144: a required form parameter is missing (§3.4)."""
    return EntraError(
        "invalid_request",
        900144,
        400,
        f"The request body must contain the following parameter: '{name}'.",
    )


def bad_assertion(reason: str) -> EntraError:
    """AADSTS700027: the client assertion failed validation; HTTP 401 (§3.4 choice)."""
    return EntraError("invalid_client", 700027, 401, reason)


def unsupported_grant_type(grant_type: str) -> EntraError:
    """AADSTS70003 (§3.4)."""
    return EntraError(
        "unsupported_grant_type",
        70003,
        400,
        f"The app requested an unsupported grant type '{grant_type}'.",
    )


def scope_without_default(scope: str) -> EntraError:
    """AADSTS1002012: client-credentials scope without `/.default` (§3.4)."""
    return EntraError(
        "invalid_scope",
        1002012,
        400,
        f"The provided value for scope {scope} is not valid. Client credential flows must have "
        "a scope value with /.default suffixed to the resource identifier (application ID URI).",
    )


def scopes_span_resources(scope: str) -> EntraError:
    """AADSTS700022: several `/.default` scopes in one request (§3.4)."""
    return EntraError(
        "invalid_scope",
        700022,
        400,
        f"The provided value for the input parameter scope is not valid because it contains "
        f"more than one resource. Scope {scope} is not valid.",
    )


def resource_not_found(resource: str, tenant_name: str) -> EntraError:
    """AADSTS500011: the resource principal is not in the tenant (§3.4)."""
    return EntraError(
        "invalid_resource",
        500011,
        400,
        f"The resource principal named {resource} was not found in the tenant named "
        f"{tenant_name}. This can happen if the application has not been installed by the "
        "administrator of the tenant or consented to by any user in the tenant. You might have "
        "sent your authentication request to the wrong tenant.",
    )


def resource_on_v2() -> EntraError:
    """AADSTS901002: `resource` sent to the v2 endpoint (§3.1)."""
    return EntraError(
        "invalid_request", 901002, 400, "The 'resource' request parameter is not supported."
    )


def throttled() -> EntraError:
    """AADSTS90055 (429, injected fault): too many requests (emulator choice)."""
    return EntraError(
        "temporarily_unavailable",
        90055,
        429,
        "TenantThrottlingError - There are too many incoming requests. This request was "
        "throttled. Please try again later.",
    )


def server_error(status: int) -> EntraError:
    """AADSTS50000 (500) / AADSTS90033 (503) for injected faults (emulator choice)."""
    if status == 503:
        return EntraError(
            "temporarily_unavailable", 90033, 503, "A transient error has occurred. Try again."
        )
    return EntraError(
        "server_error",
        50000,
        status,
        "There was an error issuing a token or an issue with our sign-in service.",
    )


# Codes used on consent pages and redirects (§2).
def redirect_mismatch(redirect_uri: str, client_id: str) -> EntraError:
    """AADSTS50011: redirect URI not registered for the app (error page, no redirect)."""
    return EntraError(
        "invalid_request",
        50011,
        400,
        f"The redirect URI '{redirect_uri}' specified in the request does not match the redirect "
        f"URIs configured for the application '{client_id}'. Make sure the redirect URI sent in "
        "the request matches one added to your application in the Azure portal.",
    )


def consent_declined() -> EntraError:
    """AADSTS65004: the administrator declined consent (§2.3)."""
    return EntraError("consent_required", 65004, 400, "User declined to consent to access the app.")


def common_not_supported_for_v2_consent(client_id: str) -> EntraError:
    """AADSTS90130 shown when /common is used with v2 admin consent (§2.3 "never common")."""
    return EntraError(
        "invalid_request",
        90130,
        400,
        f"Application '{client_id}' is not supported over the /common or /consumers endpoints. "
        "Please use the /organizations or tenant-specific endpoint.",
    )
