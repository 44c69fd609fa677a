"""Fault knobs (§11.3): forced 429/5xx, slow answers, dropped connections, malformed JSON,
consent revoked mid-run."""

from __future__ import annotations

import json
import time

import pytest
import requests

from tests.emulator.helpers import XDR_SCOPE, Client, msal_app


def _list(wire: Client, token: str) -> requests.Response:
    return wire.api("GET", "/api/incidents", token, params={"$top": "2"})


def test_forced_429_on_the_api_after_n_calls_with_retry_after(wire: Client) -> None:
    token = wire.token("Contoso")
    tid = wire.tenant_id("Contoso")
    wire.emulator.add_fault("429", tenant_id=tid, path_prefix="/api/", after=2, retry_after=7)

    codes = [_list(wire, token).status_code for _ in range(2)]
    limited = _list(wire, token)

    assert codes == [200, 200]
    assert limited.status_code == 429
    assert limited.headers["Retry-After"] == "7"
    assert limited.json()["error"]["code"] == "TooManyRequests"
    assert _list(wire, token).status_code == 200
    assert [r["faults"] for r in wire.emulator.requests[-2:]] == [["429"], []]


@pytest.mark.parametrize(
    ("kind", "code"), [("500", "InternalServerError"), ("503", "ServiceUnavailable")]
)
def test_forced_5xx_on_the_api_uses_the_error_envelope(wire: Client, kind: str, code: str) -> None:
    token = wire.token("Contoso")
    wire.emulator.add_fault(kind, path_prefix="/api/incidents", count=2)

    first, second, third = (_list(wire, token) for _ in range(3))

    assert (first.status_code, second.status_code, third.status_code) == (int(kind),) * 2 + (200,)
    assert first.json()["error"]["code"] == code


def test_faults_match_only_their_tenant(wire: Client) -> None:
    wire.emulator.add_fault(
        "500", tenant_id=wire.tenant_id("Woodgrove Bank"), path_prefix="/api/", count=5
    )
    assert _list(wire, wire.token("Contoso")).status_code == 200
    assert _list(wire, wire.token("Woodgrove Bank")).status_code == 500


def test_forced_429_and_500_on_the_token_endpoint(wire: Client) -> None:
    tid = wire.tenant_id("Contoso")
    wire.emulator.add_fault("429", tenant_id=tid, path_prefix=f"/{tid}/oauth2/", retry_after=3)
    limited = wire.token_response(tid)
    assert limited.status_code == 429
    assert limited.headers["Retry-After"] == "3"
    assert limited.json()["error_codes"] == [90055]

    wire.emulator.add_fault("500", tenant_id=tid, path_prefix=f"/{tid}/oauth2/")
    failed = wire.token_response(tid)
    assert failed.status_code == 500
    assert failed.json()["error"] == "server_error"
    assert wire.token_response(tid).status_code == 200


def test_msal_sees_a_forced_token_429_as_an_error_dict(wire: Client) -> None:
    tid = wire.tenant_id("Contoso")
    app = msal_app(wire.emulator, wire.http, tid)
    wire.emulator.add_fault("429", path_prefix=f"/{tid}/oauth2/v2.0/token", retry_after=2)
    result = app.acquire_token_for_client(scopes=[XDR_SCOPE])
    assert result["error"] == "temporarily_unavailable"


def test_slow_fault_delays_the_answer(wire: Client) -> None:
    token = wire.token("Contoso")
    wire.emulator.add_fault("slow", path_prefix="/api/", delay=0.4)
    started = time.monotonic()
    assert _list(wire, token).status_code == 200
    assert time.monotonic() - started >= 0.4
    wire.emulator.knobs.latency_seconds = 0.2
    started = time.monotonic()
    _list(wire, token)
    assert time.monotonic() - started >= 0.2


def test_drop_fault_closes_the_connection_without_an_answer(wire: Client) -> None:
    token = wire.token("Contoso")
    wire.emulator.add_fault("drop", path_prefix="/api/")
    with pytest.raises(requests.ConnectionError):
        _list(wire, token)
    assert _list(wire, token).status_code == 200
    assert wire.emulator.requests[-2]["status"] == 0


def test_malformed_json_fault_sends_a_truncated_body(wire: Client) -> None:
    token = wire.token("Contoso")
    wire.emulator.add_fault("malformed_json", path_prefix="/api/")
    resp = _list(wire, token)
    assert resp.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        json.loads(resp.content)
    assert resp.content.startswith(b'{"@odata.context":')
    assert _list(wire, token).json()["value"]


def test_revoke_consent_mid_run(wire: Client) -> None:
    tid = wire.tenant_id("Contoso")
    wire.emulator.add_fault("revoke_consent", tenant_id=tid, path_prefix=f"/{tid}/oauth2/", after=1)

    assert wire.token_response(tid).status_code == 200
    revoked = wire.token_response(tid)
    assert revoked.status_code == 401
    assert revoked.json()["error_codes"] == [7000229]
    assert wire.emulator.tenant(name="Contoso").state == "not_consented"
    config = json.loads((wire.emulator.data_dir / "config.json").read_text())
    assert next(t for t in config["tenants"] if t["tenant_id"] == tid)["state"] == "not_consented"


def test_unknown_fault_kind_is_refused(wire: Client) -> None:
    with pytest.raises(ValueError, match="unknown fault kind"):
        wire.emulator.add_fault("teapot")
