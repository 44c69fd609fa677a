"""Entra knobs for points the contract reports as varying: the `error_description` line
separator (§3.3) and the access token's `aud` form (§4)."""

from __future__ import annotations

import jwt
import pytest

from tests.emulator.helpers import XDR_RESOURCE, XDR_SCOPE, Client

XDR_APP_ID = "8ee8fdad-f234-4243-8f3b-15c294843740"
MDE_APP_ID = "fc780465-2017-40d4-a0c5-307022471b92"
CORRELATION = "0b7c1d2e-3f40-4a5b-8c6d-7e8f9a0b1c2d"
NOT_FOUND = (
    "AADSTS90002: Tenant 'nosuch.example' not found. Check to make sure you have the correct "
    "tenant ID and are signing into the correct cloud. Check with your subscription "
    "administrator, this may happen if there are no active subscriptions for the tenant."
)


def _claims(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


def _unknown_tenant_token_error(wire: Client) -> dict:
    resp = wire.http.post(
        f"{wire.emulator.url}/nosuch.example/oauth2/v2.0/token",
        data={
            "client_id": wire.emulator.client_id,
            "client_secret": wire.emulator.client_secret,
            "grant_type": "client_credentials",
            "scope": XDR_SCOPE,
        },
        headers={"client-request-id": CORRELATION},
    )
    assert resp.status_code == 400
    body: dict = resp.json()
    return body


# -- error_description_separator (§3.3) ---------------------------------------------------------
def test_error_description_lines_are_crlf_separated_by_default(wire: Client) -> None:
    assert wire.emulator.knobs.error_description_separator == "crlf"

    body = _unknown_tenant_token_error(wire)

    assert body["error_description"] == (
        f"{NOT_FOUND}\r\nTrace ID: {body['trace_id']}\r\nCorrelation ID: {CORRELATION}"
        f"\r\nTimestamp: {body['timestamp']}"
    )


def test_error_description_lines_are_space_separated_when_asked(wire: Client) -> None:
    wire.emulator.knobs.error_description_separator = "space"

    body = _unknown_tenant_token_error(wire)

    assert body["error_description"] == (
        f"{NOT_FOUND} Trace ID: {body['trace_id']} Correlation ID: {CORRELATION} "
        f"Timestamp: {body['timestamp']}"
    )


def test_space_separator_applies_to_discovery_and_injected_token_errors(wire: Client) -> None:
    wire.emulator.knobs.error_description_separator = "space"
    tid = wire.tenant_id("Contoso")
    wire.emulator.add_fault("500", path_prefix=f"/{tid}/oauth2/")

    discovery = wire.http.get(
        f"{wire.emulator.url}/nosuch.example/v2.0/.well-known/openid-configuration"
    ).json()
    injected = wire.token_response(tid).json()

    for body in (discovery, injected):
        assert "\r\n" not in body["error_description"]
        assert body["error_description"].endswith(
            f" Trace ID: {body['trace_id']} Correlation ID: {body['correlation_id']} "
            f"Timestamp: {body['timestamp']}"
        )


def test_unknown_separator_is_refused_and_nothing_changes(wire: Client) -> None:
    resp = wire.http.post(
        wire.emulator.url + "/_emulator/knobs",
        json={"error_description_separator": "tab", "next_link": True},
        headers={"X-Emulator-Key": wire.emulator.client_secret},
    )
    assert resp.status_code == 400
    assert resp.json() == {"error": "error_description_separator must be one of ('crlf', 'space')"}
    assert wire.emulator.knobs.error_description_separator == "crlf"
    assert wire.emulator.knobs.next_link is False


# -- token_aud (§4) ------------------------------------------------------------------------------
def test_token_aud_is_the_app_id_uri_as_requested_by_default(wire: Client) -> None:
    tid = wire.tenant_id("Contoso")
    assert wire.emulator.knobs.token_aud == "app_id_uri"

    v2 = wire.token_response(tid).json()["access_token"]
    v1 = wire.token_response(tid, v1=True, resource=XDR_RESOURCE + "/").json()["access_token"]

    assert _claims(v2)["aud"] == XDR_RESOURCE
    assert _claims(v1)["aud"] == XDR_RESOURCE


@pytest.mark.parametrize("v1", [False, True])
def test_token_aud_can_be_the_resource_app_id_and_the_api_accepts_it(
    wire: Client, v1: bool
) -> None:
    wire.emulator.knobs.token_aud = "app_id"
    resp = wire.token_response(wire.tenant_id("Contoso"), v1=v1)

    token = resp.json()["access_token"]

    assert _claims(token)["aud"] == XDR_APP_ID
    assert resp.json().get("resource", XDR_RESOURCE) == XDR_RESOURCE  # v1 echoes the request
    listed = wire.api("GET", "/api/incidents", token, params={"$top": "1"})
    assert listed.status_code == 200


def test_app_id_audience_of_another_resource_is_still_refused_by_the_api(wire: Client) -> None:
    wire.emulator.knobs.token_aud = "app_id"
    mde = wire.token_response(
        wire.tenant_id("Contoso"), v1=True, resource="https://api.securitycenter.microsoft.com"
    ).json()["access_token"]

    assert _claims(mde)["aud"] == MDE_APP_ID
    assert wire.api("GET", "/api/incidents", mde).status_code == 401
