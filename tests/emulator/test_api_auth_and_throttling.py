"""Bearer token checks (401/403, §9, §11.2) and rate limits with Retry-After (§5.8)."""

from __future__ import annotations

import re

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.emulator.helpers import GUID_RE, Client


def _list(wire: Client, token: str | None, path: str = "/api/incidents"):
    return wire.api("GET", path, token, params={"$top": "1"})


def test_missing_token_is_401_with_www_authenticate(wire: Client) -> None:
    resp = _list(wire, None)

    assert resp.status_code == 401
    assert resp.headers["WWW-Authenticate"] == "Bearer"
    error = resp.json()["error"]
    assert set(error) == {"code", "message", "target"}
    assert error["code"] == "Unauthorized"
    assert re.fullmatch(GUID_RE, error["target"])


def test_a_tampered_or_foreign_signature_is_401(wire: Client) -> None:
    token = wire.token("Contoso")
    head, payload, signature = token.split(".")
    tampered = f"{head}.{payload}.{signature[:-4]}{'AAAA' if signature[-4:] != 'AAAA' else 'BBBB'}"
    assert _list(wire, tampered).status_code == 401

    claims = jwt.decode(token, options={"verify_signature": False})
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = jwt.encode(
        claims,
        other_key,
        algorithm="RS256",
        headers={"kid": jwt.get_unverified_header(token)["kid"]},
    )
    resp = _list(wire, forged)
    assert resp.status_code == 401
    assert resp.json()["error"]["message"] == "The access token signature is invalid."


def test_expiry_is_checked_with_five_minutes_of_skew(wire: Client) -> None:
    token = wire.token("Contoso")
    wire.emulator.knobs.clock_offset_seconds = 3599 + 290
    assert _list(wire, token).status_code == 200
    wire.emulator.knobs.clock_offset_seconds = 3599 + 310
    resp = _list(wire, token)
    assert resp.status_code == 401
    assert resp.json()["error"]["message"] == "The access token has expired."


def test_a_token_for_another_audience_is_401(wire: Client) -> None:
    resp = wire.token_response(
        wire.tenant_id("Contoso"), v1=True, resource="https://api.securitycenter.microsoft.com"
    )
    assert _list(wire, resp.json()["access_token"]).status_code == 401


def test_a_token_without_roles_is_403_with_the_documented_message(wire: Client) -> None:
    resp = _list(wire, wire.token("Fabrikam"))

    assert resp.status_code == 403
    error = resp.json()["error"]
    assert error["code"] == "Forbidden"
    assert error["message"] == (
        "The application does not have any of the required application permissions "
        "(Incident.ReadWrite.All, Incident.Read.All) to access the resource."
    )


def test_removed_roles_bite_only_new_tokens_unless_revocation_is_immediate(wire: Client) -> None:
    tid = wire.tenant_id("Contoso")
    old = wire.token("Contoso")
    wire.emulator.set_tenant_state(tid, "no_roles")

    assert _list(wire, old).status_code == 200
    assert _list(wire, wire.token("Contoso")).status_code == 403
    wire.emulator.knobs.revocation_immediate = True
    assert _list(wire, old).status_code == 403
    wire.emulator.set_tenant_state(tid, "not_consented")
    assert _list(wire, old).status_code == 401


def test_listing_is_throttled_per_minute_with_retry_after(wire: Client) -> None:
    wire.emulator.knobs.rate_limit_per_minute = 3
    token = wire.token("Contoso")
    statuses = [_list(wire, token).status_code for _ in range(3)]
    limited = _list(wire, token)

    assert statuses == [200, 200, 200]
    assert limited.status_code == 429
    retry = int(limited.headers["Retry-After"])
    assert 58 <= retry <= 60
    assert limited.json()["error"]["code"] == "TooManyRequests"
    assert limited.json()["error"]["message"] == (
        f"Rate limit is exceeded. Try again in {retry} seconds."
    )
    # Another tenant (same app) has its own window; get-by-id has its own per-endpoint quota
    # but shares the Incidents-API overall one (§5.8), which the three lists have spent.
    assert _list(wire, wire.token("Woodgrove Bank")).status_code == 200
    assert _list(wire, token, "/api/incidents/1").status_code == 429
    # Retry-After = time until the oldest call leaves the window.
    wire.emulator.knobs.clock_offset_seconds = 20
    assert 38 <= int(_list(wire, token).headers["Retry-After"]) <= 40
    wire.emulator.knobs.clock_offset_seconds = 61
    assert _list(wire, token).status_code == 200


def test_hourly_limit_and_get_by_id_limit(wire: Client) -> None:
    knobs = wire.emulator.knobs
    knobs.rate_limit_per_minute, knobs.rate_limit_per_hour = 0, 4
    token = wire.token("Contoso")
    assert [_list(wire, token).status_code for _ in range(4)] == [200] * 4
    limited = _list(wire, token)
    assert limited.status_code == 429
    assert 3590 <= int(limited.headers["Retry-After"]) <= 3600

    knobs.rate_limit_per_hour, knobs.rate_limit_get_per_minute = 0, 2
    incident = wire.emulator.incident_ids(wire.tenant_id("Contoso"))[0]
    path = f"/api/incidents/{incident}"
    codes = [wire.api("GET", path, token).status_code for _ in range(3)]
    assert codes == [200, 200, 429]


def test_throttled_calls_are_not_counted(wire: Client) -> None:
    wire.emulator.knobs.rate_limit_per_minute = 1
    token = wire.token("Contoso")
    assert [_list(wire, token).status_code for _ in range(5)] == [200, 429, 429, 429, 429]
    wire.emulator.knobs.clock_offset_seconds = 60.5
    assert _list(wire, token).status_code == 200
