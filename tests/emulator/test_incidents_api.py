"""GET /api/incidents and /api/incidents/{id}: envelope, headers, filters, paging (§5)."""

from __future__ import annotations

import operator
from datetime import datetime
from typing import Any

import pytest

from tests.emulator.helpers import Client

CONTEXT = "https://api.security.microsoft.com/api/$metadata#Incidents"
ODATA_TYPE = "application/json; odata.metadata=minimal; odata.streaming=true; charset=utf-8"


@pytest.fixture
def token(wire: Client) -> str:
    return wire.token("Contoso")


def _ts(text: str) -> datetime:
    """Parse the wire DateTimeOffset (0-7 fraction digits) exactly enough to compare."""
    base, _, frac = text.rstrip("Z").partition(".")
    return datetime.fromisoformat(base).replace(microsecond=int((frac or "0").ljust(7, "0")) // 10)


def _key(text: str) -> tuple[str, int]:
    base, _, frac = text.rstrip("Z").partition(".")
    return base, int((frac or "0").ljust(7, "0"))


def test_list_envelope_headers_and_default_page(wire: Client, token: str) -> None:
    resp = wire.api("GET", "/api/incidents", token)

    assert resp.status_code == 200
    body = resp.json()
    assert list(body) == ["@odata.context", "value"]
    assert body["@odata.context"] == CONTEXT
    assert len(body["value"]) == 100
    assert resp.headers["Content-Type"] == ODATA_TYPE
    assert resp.headers["OData-Version"] == "4.0"
    assert resp.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
    assert resp.headers["Vary"] == "Accept-Encoding"
    assert resp.headers["Content-Encoding"] == "deflate"
    assert resp.headers["Transfer-Encoding"] == "chunked"


def test_no_deflate_unless_the_client_accepts_it(wire: Client, token: str) -> None:
    resp = wire.api("GET", "/api/incidents", token, headers={"Accept-Encoding": "identity"})
    assert "Content-Encoding" not in resp.headers
    assert resp.json()["@odata.context"] == CONTEXT


def test_default_page_size_knob(wire: Client, token: str) -> None:
    wire.emulator.knobs.default_page_size = 25
    assert len(wire.api("GET", "/api/incidents", token).json()["value"]) == 25


def test_paging_with_skip_returns_every_incident_once_newest_first(
    wire: Client, token: str
) -> None:
    rows = wire.list_all(token)

    ids = [r["incidentId"] for r in rows]
    assert len(ids) == wire.emulator.incident_count(wire.tenant_id("Contoso")) == 250
    assert len(set(ids)) == 250
    order = [(_key(r["createdTime"]), r["incidentId"]) for r in rows]
    assert order == sorted(order, reverse=True)
    assert ids == wire.emulator.incident_ids(wire.tenant_id("Contoso"))
    past_end = wire.api("GET", "/api/incidents", token, params={"$skip": "250"}).json()
    assert past_end["value"] == []
    last = wire.api("GET", "/api/incidents", token, params={"$top": "100", "$skip": "200"})
    assert len(last.json()["value"]) == 50


def test_top_over_100_is_rejected_by_default_and_clamped_by_knob(wire: Client, token: str) -> None:
    resp = wire.api("GET", "/api/incidents", token, params={"$top": "101"})
    assert resp.status_code == 400
    error = resp.json()["error"]
    assert error["code"] == "ODataError"
    assert "The limit of '100' for Top query has been exceeded" in error["message"]

    wire.emulator.knobs.top_over_max = "clamp"
    clamped = wire.api("GET", "/api/incidents", token, params={"$top": "500"})
    assert len(clamped.json()["value"]) == 100


OPS = {
    "eq": operator.eq,
    "ne": operator.ne,
    "gt": operator.gt,
    "ge": operator.ge,
    "lt": operator.lt,
    "le": operator.le,
}


@pytest.mark.parametrize("prop", ["lastUpdateTime", "createdTime"])
@pytest.mark.parametrize("op", list(OPS))
def test_datetime_filter_operators(wire: Client, token: str, prop: str, op: str) -> None:
    everything = wire.list_all(token)
    pivot = everything[60][prop]
    rows = wire.list_all(token, **{"$filter": f"{prop} {op} {pivot}"})

    expected = [r["incidentId"] for r in everything if OPS[op](_key(r[prop]), _key(pivot))]
    assert [r["incidentId"] for r in rows] == expected
    assert len(expected) > 0 or op == "eq"


def test_datetime_literal_forms(wire: Client, token: str) -> None:
    everything = wire.list_all(token)
    pivot = _ts(everything[100]["lastUpdateTime"]).replace(microsecond=0)
    seven = pivot.strftime("%Y-%m-%dT%H:%M:%S") + ".0000000Z"
    offset = pivot.strftime("%Y-%m-%dT%H:%M:%S") + "+00:00"
    a = wire.list_all(token, **{"$filter": f"lastUpdateTime ge {seven}"})
    b = wire.list_all(token, **{"$filter": f"lastUpdateTime ge {offset}"})
    assert a == b and len(a) > 0
    eight = pivot.strftime("%Y-%m-%dT%H:%M:%S") + ".00000000Z"
    bad = wire.api("GET", "/api/incidents", token, params={"$filter": f"lastUpdateTime ge {eight}"})
    assert bad.status_code == 400


def test_status_and_assigned_to_filters(wire: Client, token: str) -> None:
    everything = wire.list_all(token)
    analyst = next(r["assignedTo"] for r in everything if r["assignedTo"])
    cases: list[tuple[str, Any]] = [
        ("status eq 'Resolved'", lambda r: r["status"] == "Resolved"),
        ("status ne 'Resolved'", lambda r: r["status"] != "Resolved"),
        ("status eq 'Redirected'", lambda r: r["status"] == "Redirected"),
        (f"assignedTo eq '{analyst}'", lambda r: r["assignedTo"] == analyst),
        (f"assignedTo ne '{analyst}'", lambda r: r["assignedTo"] != analyst),
        ("assignedTo eq null", lambda r: r["assignedTo"] is None),
        ("assignedTo ne null", lambda r: r["assignedTo"] is not None),
        (
            f"(status eq 'Active') and assignedTo eq null and createdTime le "
            f"{everything[0]['createdTime']}",
            lambda r: r["status"] == "Active" and r["assignedTo"] is None,
        ),
    ]
    for expression, predicate in cases:
        rows = wire.list_all(token, **{"$filter": expression})
        expected = [r["incidentId"] for r in everything if predicate(r)]
        assert [r["incidentId"] for r in rows] == expected, expression
        assert expected, expression


@pytest.mark.parametrize(
    ("params", "fragment"),
    [
        ({"$filter": "severity eq 'High'"}, "The property 'severity' cannot be used"),
        ({"$filter": "colour eq 'red'"}, "Could not find a property named 'colour'"),
        ({"$filter": "status eq 'Active' or status eq 'Resolved'"}, "'or' operator"),
        ({"$filter": "not (status eq 'Active')"}, "'not' operator"),
        ({"$filter": "contains(assignedTo, 'a')"}, "function 'contains'"),
        ({"$filter": "lastUpdateTime ge '2025-01-01T00:00:00Z'"}, "incompatible types"),
        ({"$filter": "status eq 'Closed'"}, "not a valid enumeration"),
        ({"$filter": "lastUpdateTime ge"}, "Expression expected"),
        ({"$orderby": "createdTime desc"}, "'$orderby' is not allowed"),
        ({"$count": "true"}, "'$count' is not allowed"),
        ({"$select": "incidentId"}, "'$select' is not allowed"),
        ({"$expand": "alerts"}, "'$expand' is not allowed"),
        ({"$top": "ten"}, "requires a non-negative integer"),
        ({"$skip": "-1"}, "requires a non-negative integer"),
    ],
)
def test_unsupported_odata_is_400_odata_error(
    wire: Client, token: str, params: dict[str, str], fragment: str
) -> None:
    resp = wire.api("GET", "/api/incidents", token, params=params)

    assert resp.status_code == 400
    body = resp.json()
    assert list(body) == ["error"]
    assert set(body["error"]) == {"code", "message", "target"}
    assert body["error"]["code"] == "ODataError"
    assert body["error"]["message"].startswith("The query specified in the URI is not valid.")
    assert fragment in body["error"]["message"]


def test_next_link_is_off_by_default_and_pages_through_when_on(wire: Client, token: str) -> None:
    params = {"$filter": "lastUpdateTime ge 2000-01-01T00:00:00Z", "$top": "100"}
    assert "@odata.nextLink" not in wire.api("GET", "/api/incidents", token, params=params).json()

    wire.emulator.knobs.next_link = True
    first = wire.api("GET", "/api/incidents", token, params=params).json()
    assert list(first) == ["@odata.context", "value", "@odata.nextLink"]
    assert first["@odata.nextLink"] == (
        f"{wire.emulator.url}/api/incidents?$filter=lastUpdateTime%20ge%20"
        "2000-01-01T00%3A00%3A00Z&$top=100&$skip=100"
    )
    seen = len(first["value"])
    link = first["@odata.nextLink"]
    while link:
        page = wire.http.get(link, headers={"Authorization": f"Bearer {token}"}).json()
        seen += len(page["value"])
        link = page.get("@odata.nextLink")
    assert seen == 250


def test_get_by_id_returns_the_entity_with_its_context(wire: Client, token: str) -> None:
    listed = wire.api("GET", "/api/incidents", token, params={"$top": "3"}).json()["value"][2]
    resp = wire.api("GET", f"/api/incidents/{listed['incidentId']}", token)

    assert resp.status_code == 200
    body = resp.json()
    assert body.pop("@odata.context") == CONTEXT + "/$entity"
    assert body == listed
    assert resp.headers["Content-Type"] == ODATA_TYPE


def test_unknown_id_is_404_and_non_numeric_id_is_400_invalid_input(
    wire: Client, token: str
) -> None:
    missing = wire.api("GET", "/api/incidents/999999999", token)
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "ResourceNotFound"
    assert missing.json()["error"]["message"] == "Incident 999999999 was not found"

    bad = wire.api("GET", "/api/incidents/abc", token)
    assert bad.status_code == 400
    assert bad.json()["error"]["code"] == "InvalidInput"


def test_the_api_answers_for_any_host_header(wire: Client, token: str) -> None:
    for host in ("api.security.microsoft.com", "api-eu.security.microsoft.com", "example.test"):
        resp = wire.api(
            "GET", "/api/incidents", token, params={"$top": "1"}, headers={"Host": host}
        )
        assert resp.status_code == 200, host


def test_the_tid_claim_selects_the_tenant_data(wire: Client) -> None:
    contoso = wire.list_all(wire.token("Contoso"))
    woodgrove = wire.list_all(wire.token("Woodgrove Bank"))
    assert len(contoso) == 250 and len(woodgrove) == 30
    assert {r["incidentUri"].split("tid=")[1] for r in woodgrove} == {
        wire.tenant_id("Woodgrove Bank")
    }
