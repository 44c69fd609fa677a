"""Token endpoint wire contract: replies, headers, claims, error envelope and codes (§3, §4)."""

from __future__ import annotations

import base64
import re
import time

import jwt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.emulator.helpers import GUID_RE, XDR_RESOURCE, Client

ENVELOPE_KEYS = {
    "error",
    "error_description",
    "error_codes",
    "timestamp",
    "trace_id",
    "correlation_id",
    "error_uri",
}


def _claims(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


def test_v2_reply_has_int_lifetimes_no_scope_and_the_live_headers(wire: Client) -> None:
    resp = wire.token_response(wire.tenant_id("Contoso"))

    assert resp.status_code == 200
    body = resp.json()
    assert set(body) == {"token_type", "expires_in", "ext_expires_in", "access_token"}
    assert (body["token_type"], body["expires_in"], body["ext_expires_in"]) == (
        "Bearer",
        3599,
        3599,
    )
    assert resp.headers["Cache-Control"] == "no-store, no-cache"
    assert resp.headers["Pragma"] == "no-cache"
    assert resp.headers["Expires"] == "-1"
    assert resp.headers["Content-Type"] == "application/json; charset=utf-8"
    assert re.fullmatch(GUID_RE, resp.headers["x-ms-request-id"])
    assert resp.headers["x-ms-ests-server"]


def test_v1_reply_has_numbers_as_strings_plus_expires_on_not_before_and_resource(
    wire: Client,
) -> None:
    before = int(time.time())
    body = wire.token_response(wire.tenant_id("Contoso"), v1=True).json()

    assert set(body) == {
        "token_type",
        "expires_in",
        "ext_expires_in",
        "expires_on",
        "not_before",
        "resource",
        "access_token",
    }
    assert body["expires_in"] == "3599" and body["ext_expires_in"] == "3599"
    assert body["resource"] == XDR_RESOURCE
    assert int(body["expires_on"]) - int(body["not_before"]) == 3599
    assert before - 1 <= int(body["not_before"]) <= time.time() + 1


def test_access_token_carries_the_v1_app_only_claims(wire: Client) -> None:
    tid = wire.tenant_id("Contoso")
    token = wire.token_response(tid).json()["access_token"]
    header = jwt.get_unverified_header(token)
    claims = _claims(token)

    assert header["alg"] == "RS256" and header["typ"] == "JWT"
    assert header["kid"] == header["x5t"]
    assert claims["aud"] == XDR_RESOURCE
    assert claims["iss"] == f"https://sts.windows.net/{tid}/"
    assert claims["idp"] == f"https://sts.windows.net/{tid}/"
    assert claims["tid"] == tid
    assert claims["appid"] == wire.emulator.client_id
    assert claims["appidacr"] == "1"
    assert claims["idtyp"] == "app"
    assert claims["ver"] == "1.0"
    assert claims["roles"] == ["Incident.Read.All"]
    assert re.fullmatch(GUID_RE, claims["oid"]) and claims["sub"] == claims["oid"]
    assert claims["exp"] - claims["iat"] == 3599 and claims["nbf"] == claims["iat"]
    assert all(isinstance(claims[k], int) for k in ("exp", "nbf", "iat"))


def test_token_expires_in_knob_sets_lifetime(wire: Client) -> None:
    wire.emulator.knobs.token_expires_in = 5399
    body = wire.token_response(wire.tenant_id("Contoso")).json()
    assert body["expires_in"] == 5399
    claims = _claims(body["access_token"])
    assert claims["exp"] - claims["iat"] == 5399


def test_the_jwks_verifies_the_token_and_publishes_n_e_x5t_x5c(wire: Client) -> None:
    tid = wire.tenant_id("Contoso")
    token = wire.token_response(tid).json()["access_token"]
    jwks = wire.http.get(f"{wire.emulator.url}/{tid}/discovery/v2.0/keys").json()

    (key,) = jwks["keys"]
    assert {"kty", "use", "kid", "x5t", "n", "e", "x5c", "issuer"} <= set(key)
    assert (key["kty"], key["use"]) == ("RSA", "sig")
    assert key["issuer"] == f"{wire.emulator.url}/{tid}/v2.0"
    assert key["kid"] == jwt.get_unverified_header(token)["kid"]
    signing_key = jwt.PyJWK(key).key
    claims = jwt.decode(token, signing_key, algorithms=["RS256"], audience=XDR_RESOURCE)
    assert claims["tid"] == tid
    cert = x509.load_der_x509_certificate(base64.b64decode(key["x5c"][0]))
    public = cert.public_key()
    assert isinstance(public, rsa.RSAPublicKey)
    assert public.public_numbers() == signing_key.public_numbers()


def test_common_and_v1_key_documents(wire: Client) -> None:
    url = wire.emulator.url
    common = wire.http.get(f"{url}/common/discovery/v2.0/keys").json()
    assert common["keys"][0]["issuer"] == f"{url}/{{tenantid}}/v2.0"
    v1 = wire.http.get(f"{url}/{wire.tenant_id('Contoso')}/discovery/keys").json()
    assert "issuer" not in v1["keys"][0]
    assert v1["keys"][0]["kid"] == common["keys"][0]["kid"]


def test_discovery_for_a_domain_path_returns_guid_endpoints(wire: Client) -> None:
    tenant = wire.emulator.tenant(name="Contoso")
    url = wire.emulator.url
    doc = wire.http.get(f"{url}/{tenant.domain}/v2.0/.well-known/openid-configuration").json()

    assert doc["token_endpoint"] == f"{url}/{tenant.tenant_id}/oauth2/v2.0/token"
    assert doc["authorization_endpoint"] == f"{url}/{tenant.tenant_id}/oauth2/v2.0/authorize"
    assert doc["issuer"] == f"{url}/{tenant.tenant_id}/v2.0"
    assert doc["jwks_uri"] == f"{url}/{tenant.tenant_id}/discovery/v2.0/keys"
    assert doc["token_endpoint_auth_methods_supported"] == [
        "client_secret_post",
        "private_key_jwt",
        "client_secret_basic",
    ]
    assert doc["id_token_signing_alg_values_supported"] == ["RS256"]
    assert doc["subject_types_supported"] == ["pairwise"]
    assert {"cloud_instance_name", "tenant_region_scope", "msgraph_host"} <= set(doc)
    v1 = wire.http.get(f"{url}/{tenant.domain}/.well-known/openid-configuration").json()
    assert v1["token_endpoint"] == f"{url}/{tenant.tenant_id}/oauth2/token"
    assert v1["issuer"] == f"https://sts.windows.net/{tenant.tenant_id}/"


def test_discovery_for_an_unknown_tenant_is_400_invalid_tenant_90002(wire: Client) -> None:
    resp = wire.http.get(
        f"{wire.emulator.url}/nosuch.example/v2.0/.well-known/openid-configuration"
    )
    assert resp.status_code == 400
    body = resp.json()
    assert set(body) == ENVELOPE_KEYS
    assert (body["error"], body["error_codes"]) == ("invalid_tenant", [90002])
    assert body["error_description"].startswith("AADSTS90002: Tenant 'nosuch.example' not found.")


def test_error_envelope_is_exactly_the_documented_shape(wire: Client) -> None:
    correlation = "0b7c1d2e-3f40-4a5b-8c6d-7e8f9a0b1c2d"
    resp = wire.http.post(
        f"{wire.emulator.url}/{wire.tenant_id('Contoso')}/oauth2/v2.0/token",
        data={
            "client_id": wire.emulator.client_id,
            "client_secret": "wrong",
            "grant_type": "client_credentials",
            "scope": "https://api.security.microsoft.com/.default",
        },
        headers={"client-request-id": correlation},
    )

    assert resp.status_code == 401
    assert resp.headers["Cache-Control"] == "no-store, no-cache"
    body = resp.json()
    assert set(body) == ENVELOPE_KEYS
    assert body["error"] == "invalid_client"
    assert body["error_codes"] == [7000215]
    assert body["correlation_id"] == correlation
    assert re.fullmatch(GUID_RE, body["trace_id"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ", body["timestamp"])
    assert body["error_uri"] == "https://login.microsoftonline.com/error?code=7000215"
    assert body["error_description"] == (
        "AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the "
        "request is the client secret value, not the client secret ID, for a secret added to app "
        f"'{wire.emulator.client_id}'.\r\nTrace ID: {body['trace_id']}\r\nCorrelation ID: "
        f"{correlation}\r\nTimestamp: {body['timestamp']}"
    )


UNKNOWN = "00000000-0000-4000-8000-000000000000"
DEFAULT = object()


@pytest.mark.parametrize(
    ("tenant", "overrides", "status", "error", "code"),
    [
        ("common", {}, 400, "invalid_request", 9001023),
        ("organizations", {}, 400, "invalid_request", 9001023),
        (UNKNOWN, {}, 400, "invalid_request", 90002),
        ("Contoso", {"client_id": None}, 400, "invalid_request", 900144),
        ("Contoso", {"client_id": UNKNOWN}, 400, "unauthorized_client", 700016),
        ("Contoso", {"grant_type": "password"}, 400, "unsupported_grant_type", 70003),
        ("Contoso", {"client_secret": None}, 400, "invalid_request", 7000218),
        ("Contoso", {"client_secret": "nope"}, 401, "invalid_client", 7000215),
        ("Northwind Traders", {}, 401, "invalid_client", 7000229),
        ("Contoso", {"scope": "https://api.security.microsoft.com/Incident.Read.All"}, 400,
         "invalid_scope", 1002012),
        ("Contoso", {"scope": "https://graph.microsoft.com/.default"}, 400, "invalid_resource",
         500011),
        ("Contoso", {"resource": XDR_RESOURCE}, 400, "invalid_request", 901002),
        ("Contoso", {"scope": "https://api.security.microsoft.com/.default "
                              "https://api.securitycenter.microsoft.com/.default"}, 400,
         "invalid_scope", 700022),
        # Check order (§11.2): tenant before client, client before credential, ...
        (UNKNOWN, {"client_id": UNKNOWN}, 400, "invalid_request", 90002),
        ("Contoso", {"client_id": UNKNOWN, "client_secret": "nope"}, 400, "unauthorized_client",
         700016),
        ("Northwind Traders", {"client_secret": "nope"}, 401, "invalid_client", 7000215),
        ("Northwind Traders", {"scope": "https://graph.microsoft.com/.default"}, 401,
         "invalid_client", 7000229),
    ],
)  # fmt: skip
def test_token_errors_have_the_documented_code_and_status(
    wire: Client, tenant: str, overrides: dict, status: int, error: str, code: int
) -> None:
    path_tenant = (
        tenant if tenant in ("common", "organizations", UNKNOWN) else wire.tenant_id(tenant)
    )
    resp = wire.token_response(path_tenant, **overrides)

    assert resp.status_code == status
    body = resp.json()
    assert set(body) == ENVELOPE_KEYS
    assert (body["error"], body["error_codes"]) == (error, [code])
    assert body["error_description"].startswith(f"AADSTS{code}: ")


def test_v1_requires_resource_and_unknown_resource_is_500011(wire: Client) -> None:
    tid = wire.tenant_id("Contoso")
    missing = wire.token_response(tid, v1=True, resource=None).json()
    assert missing["error_codes"] == [900144]
    unknown = wire.token_response(tid, v1=True, resource="https://unknown.example").json()
    assert (unknown["error"], unknown["error_codes"]) == ("invalid_resource", [500011])


def test_secret_in_http_basic_is_accepted(wire: Client) -> None:
    tid = wire.tenant_id("Contoso")
    resp = wire.http.post(
        f"{wire.emulator.url}/{tid}/oauth2/v2.0/token",
        data={
            "grant_type": "client_credentials",
            "scope": "https://api.security.microsoft.com/.default",
        },
        auth=(wire.emulator.client_id, wire.emulator.client_secret),
    )
    assert resp.status_code == 200


def test_mde_token_has_the_mde_audience_and_no_xdr_roles(wire: Client) -> None:
    tid = wire.tenant_id("Contoso")
    body = wire.token_response(
        tid, v1=True, resource="https://api.securitycenter.microsoft.com"
    ).json()
    claims = _claims(body["access_token"])
    assert claims["aud"] == "https://api.securitycenter.microsoft.com"
    assert "roles" not in claims


def test_token_request_log_redacts_the_secret(wire: Client) -> None:
    wire.token_response(wire.tenant_id("Contoso"))
    entry = wire.emulator.requests[-1]
    assert entry["kind"] == "token"
    assert entry["form"]["client_secret"] == "[redacted]"
    assert wire.emulator.client_secret not in repr(wire.emulator.requests)


def test_consent_propagation_delays_the_service_principal(wire: Client) -> None:
    emulator = wire.emulator
    emulator.knobs.consent_propagation_seconds = 60
    tid = wire.tenant_id("Northwind Traders")
    emulator.core.grant_consent(tid)

    assert wire.token_response(tid).json()["error_codes"] == [7000229]
    emulator.knobs.clock_offset_seconds = 61
    assert wire.token_response(tid).status_code == 200
