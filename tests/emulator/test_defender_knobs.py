"""Defender knobs for points the contract leaves open: list order (§5.1), Retry-After on 429s
(§9), the Incidents-API overall quota (§5.8), and incident ids up to 2**63 - 1 (§5.3, §9)."""

from __future__ import annotations

import re
from typing import Any

import pytest
import requests

from tests.emulator.helpers import GUID_RE, Client

INT64_MAX = 2**63 - 1


def _page(wire: Client, token: str, **params: str) -> list[int]:
    resp = wire.api("GET", "/api/incidents", token, params=params)
    assert resp.status_code == 200, resp.text
    return [row["incidentId"] for row in resp.json()["value"]]


def _walk(wire: Client, token: str) -> list[int]:
    """The portal's loop (§5.1): $top=100, $skip += 100 until a short page."""
    return [row["incidentId"] for row in wire.list_all(token)]


def _throttled_seconds(resp: requests.Response) -> int:
    """The wait a §9 429 body announces, after checking the body's exact shape."""
    error = resp.json()["error"]
    assert set(error) == {"code", "message", "target"}
    assert error["code"] == "TooManyRequests"
    assert re.fullmatch(GUID_RE, error["target"])
    match = re.fullmatch(r"Rate limit is exceeded\. Try again in (\d+) seconds\.", error["message"])
    assert match is not None, error["message"]
    return int(match.group(1))


# -- list_order (§5.1) --------------------------------------------------------------------------
def test_default_list_order_is_created_desc_then_incident_id_desc(wire: Client) -> None:
    token = wire.token("Contoso")
    assert wire.emulator.knobs.list_order == "created_desc"

    ids = _walk(wire, token)

    assert ids == wire.emulator.incident_ids(wire.tenant_id("Contoso"))
    assert len(ids) == len(set(ids)) == 250


def test_created_asc_lists_the_exact_reverse(wire: Client) -> None:
    token = wire.token("Contoso")
    wire.emulator.knobs.list_order = "created_asc"

    ids = _walk(wire, token)

    assert ids == wire.emulator.incident_ids(wire.tenant_id("Contoso"))[::-1]
    assert _page(wire, token, **{"$top": "3", "$skip": "247"}) == ids[247:]


def test_unstable_order_permutes_the_rows_of_one_request(wire: Client) -> None:
    token = wire.token("Woodgrove Bank")
    default = _page(wire, token)
    wire.emulator.knobs.list_order = "unstable"

    shuffled = _page(wire, token)

    assert len(default) == 30
    assert sorted(shuffled) == sorted(default)
    assert shuffled != default
    assert _page(wire, token) == shuffled  # same request, unchanged data: same page
    status = {"$filter": "status eq 'Active'"}
    wire.emulator.knobs.list_order = "created_desc"
    active = _page(wire, token, **status)
    wire.emulator.knobs.list_order = "unstable"
    assert sorted(_page(wire, token, **status)) == sorted(active)


def test_unstable_order_can_repeat_and_miss_rows_across_a_skip_walk(wire: Client) -> None:
    token = wire.token("Contoso")
    wire.emulator.knobs.list_order = "unstable"

    pages = [_page(wire, token, **{"$top": "100", "$skip": str(s)}) for s in (0, 100, 200)]
    walk = [i for page in pages for i in page]

    assert [len(p) for p in pages] == [100, 100, 50]
    assert all(len(set(p)) == len(p) for p in pages)  # never within one request
    assert set(walk) <= set(wire.emulator.incident_ids(wire.tenant_id("Contoso")))
    assert len(walk) == 250
    assert len(set(walk)) < 250  # across requests: some rows twice, others never


def test_list_order_is_a_knob_in_the_admin_endpoint(wire: Client) -> None:
    admin = wire.emulator.url + "/_emulator/knobs"
    key = {"X-Emulator-Key": wire.emulator.client_secret}

    ok = wire.http.post(admin, json={"list_order": "created_asc"}, headers=key)
    bad = wire.http.post(admin, json={"list_order": "random"}, headers=key)

    assert ok.status_code == 200 and ok.json()["list_order"] == "created_asc"
    assert bad.status_code == 400
    assert bad.json() == {
        "error": "list_order must be one of ('created_desc', 'created_asc', 'unstable')"
    }
    assert wire.emulator.knobs.list_order == "created_asc"


# -- retry_after_header (§9) --------------------------------------------------------------------
def test_throttled_429_carries_retry_after_by_default(wire: Client) -> None:
    wire.emulator.knobs.rate_limit_per_minute = 1
    token = wire.token("Contoso")
    assert _page(wire, token, **{"$top": "1"})

    limited = wire.api("GET", "/api/incidents", token)

    assert limited.status_code == 429
    seconds = _throttled_seconds(limited)
    assert 59 <= seconds <= 60  # the first call leaves the 60 s window then
    assert limited.headers["Retry-After"] == str(seconds)


def test_throttled_429_has_no_retry_after_when_the_knob_is_off(wire: Client) -> None:
    knobs = wire.emulator.knobs
    knobs.rate_limit_per_minute, knobs.retry_after_header = 1, False
    token = wire.token("Contoso")
    assert _page(wire, token, **{"$top": "1"})
    knobs.clock_offset_seconds = 15

    limited = wire.api("GET", "/api/incidents", token)

    assert limited.status_code == 429
    assert "Retry-After" not in limited.headers
    assert 44 <= _throttled_seconds(limited) <= 45


def test_injected_api_429_follows_the_knob_and_entra_429_keeps_its_header(wire: Client) -> None:
    wire.emulator.knobs.retry_after_header = False
    tid = wire.tenant_id("Contoso")
    token = wire.token("Contoso")
    wire.emulator.add_fault("429", path_prefix="/api/", retry_after=7)
    wire.emulator.add_fault("429", path_prefix=f"/{tid}/oauth2/", retry_after=3)

    api = wire.api("GET", "/api/incidents", token)
    entra = wire.token_response(tid)

    assert api.status_code == 429 and "Retry-After" not in api.headers
    assert _throttled_seconds(api) == 7
    assert entra.status_code == 429 and entra.headers["Retry-After"] == "3"


# -- Incidents-API overall quota (§5.8) ---------------------------------------------------------
def _call(wire: Client, token: str, endpoint: str, incident_id: int) -> requests.Response:
    path = f"/api/incidents/{incident_id}"
    if endpoint == "list":
        return wire.api("GET", "/api/incidents", token, params={"$top": "1"})
    if endpoint == "get":
        return wire.api("GET", path, token)
    return wire.api("PATCH", path, token, json={"tags": ["x"]})


def test_list_get_and_patch_share_the_overall_per_minute_quota(wire: Client) -> None:
    wire.emulator.knobs.rate_limit_per_minute = 3  # overall 3/min; get-by-id alone 100/min
    token = wire.token("Woodgrove Bank")
    incident = wire.emulator.incident_ids(wire.tenant_id("Woodgrove Bank"))[0]

    codes = [_call(wire, token, e, incident).status_code for e in ("list", "get", "patch")]
    limited = _call(wire, token, "get", incident)
    hunt = wire.api("POST", "/api/advancedhunting/run", token, json={"Query": "AlertInfo"})

    assert codes == [200, 200, 200]
    assert limited.status_code == 429
    seconds = _throttled_seconds(limited)
    assert 59 <= seconds <= 60
    assert limited.headers["Retry-After"] == str(seconds)
    assert hunt.status_code == 200  # advanced hunting is not part of the Incidents API
    assert _call(wire, wire.token("Contoso"), "list", incident).status_code == 200


def test_overall_hourly_quota_spans_the_endpoints(wire: Client) -> None:
    knobs = wire.emulator.knobs
    knobs.rate_limit_per_minute, knobs.rate_limit_per_hour = 0, 2
    token = wire.token("Woodgrove Bank")
    incident = wire.emulator.incident_ids(wire.tenant_id("Woodgrove Bank"))[0]

    codes = [_call(wire, token, e, incident).status_code for e in ("list", "get", "patch")]

    assert codes == [200, 200, 429]
    knobs.clock_offset_seconds = 3600.5
    assert _call(wire, token, "patch", incident).status_code == 200


def test_a_call_refused_by_its_endpoint_quota_is_not_counted_overall(wire: Client) -> None:
    knobs = wire.emulator.knobs
    knobs.rate_limit_per_minute, knobs.rate_limit_get_per_minute = 2, 1
    token = wire.token("Contoso")
    incident = wire.emulator.incident_ids(wire.tenant_id("Contoso"))[0]

    codes = [_call(wire, token, e, incident).status_code for e in ("get", "get", "list", "list")]

    assert codes == [200, 429, 200, 429]


def test_overall_quota_is_off_when_both_limits_are_zero(wire: Client) -> None:
    knobs = wire.emulator.knobs
    knobs.rate_limit_per_minute, knobs.rate_limit_per_hour = 0, 0
    token = wire.token("Contoso")
    incident = wire.emulator.incident_ids(wire.tenant_id("Contoso"))[0]

    codes = [_call(wire, token, e, incident).status_code for e in ("list", "get") * 30]

    assert codes == [200] * 60


# -- incident ids (§5.3 long, §9) ---------------------------------------------------------------
@pytest.mark.parametrize(
    ("raw_id", "status", "code"),
    [
        (str(INT64_MAX), 404, "ResourceNotFound"),
        ("1000000000000000000", 404, "ResourceNotFound"),  # 19 digits
        ("999999999999999999", 404, "ResourceNotFound"),  # 18 digits
        (str(INT64_MAX + 1), 400, "InvalidInput"),
        ("99999999999999999999", 400, "InvalidInput"),
        ("12a", 400, "InvalidInput"),
        ("-5", 400, "InvalidInput"),
    ],
)
def test_get_by_id_is_404_for_any_long_and_400_otherwise(
    wire: Client, raw_id: str, status: int, code: str
) -> None:
    resp = wire.api("GET", f"/api/incidents/{raw_id}", wire.token("Contoso"))

    assert resp.status_code == status
    error: dict[str, Any] = resp.json()["error"]
    assert error["code"] == code
    if status == 404:
        assert error["message"] == f"Incident {int(raw_id)} was not found"
    else:
        assert error["message"] == f"The incident id '{raw_id}' is not valid."


def test_patch_of_a_nineteen_digit_id_is_404(wire: Client) -> None:
    resp = wire.api(
        "PATCH", f"/api/incidents/{INT64_MAX}", wire.token("Woodgrove Bank"), json={"tags": []}
    )
    assert resp.status_code == 404
    assert resp.json()["error"]["message"] == f"Incident {INT64_MAX} was not found"
