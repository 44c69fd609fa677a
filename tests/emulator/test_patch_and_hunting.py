"""PATCH /api/incidents/{id} (§6) and POST /api/advancedhunting/run (§7)."""

from __future__ import annotations

import time
from typing import Any

import pytest

from emulator.timeutil import TICKS_PER_SECOND, parse_iso, to_ticks
from tests.emulator.helpers import Client


@pytest.fixture
def rw_token(wire: Client) -> str:
    """Woodgrove Bank holds Incident.ReadWrite.All and AdvancedHunting.Read.All."""
    return wire.token("Woodgrove Bank")


def _first_open(wire: Client, token: str) -> dict[str, Any]:
    rows = wire.list_all(token, **{"$filter": "status eq 'Active'"})
    return rows[0]


def _patch(wire: Client, token: str, incident_id: int, body: Any, **kw: Any):
    return wire.api("PATCH", f"/api/incidents/{incident_id}", token, json=body, **kw)


def test_patch_updates_the_documented_fields_and_returns_the_entity(
    wire: Client, rw_token: str
) -> None:
    before = _first_open(wire, rw_token)
    started = time.time()
    resp = _patch(
        wire,
        rw_token,
        before["incidentId"],
        {
            "status": "Resolved",
            "assignedTo": "alex.morgan@contoso-mssp.example",
            "classification": "TruePositive",
            "determination": "Malware",
            "tags": ["Escalated", "demo"],
            "comment": "Contained and closed.",
        },
    )

    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["@odata.context"].endswith("/api/$metadata#Incidents/$entity")
    assert body["incidentId"] == before["incidentId"]
    assert (body["status"], body["classification"], body["determination"]) == (
        "Resolved",
        "TruePositive",
        "Malware",
    )
    assert body["assignedTo"] == "alex.morgan@contoso-mssp.example"
    assert body["tags"] == ["Escalated", "demo"]
    assert body["comments"][-1]["comment"] == "Contained and closed."
    assert body["comments"][-1]["createdBy"] == "Contoso MSSP Partner Portal"
    assert parse_iso(body["lastUpdateTime"]) > parse_iso(before["lastUpdateTime"])
    assert parse_iso(body["lastUpdateTime"]) >= to_ticks(started) - TICKS_PER_SECOND
    assert all(a["status"] == "Resolved" for a in body["alerts"])
    again = wire.api("GET", f"/api/incidents/{before['incidentId']}", rw_token).json()
    assert again == body


def test_patch_keeps_omitted_fields_and_stores_empty_assignee_as_null(
    wire: Client, rw_token: str
) -> None:
    before = _first_open(wire, rw_token)
    _patch(wire, rw_token, before["incidentId"], {"assignedTo": "someone@x.example"})
    body = _patch(wire, rw_token, before["incidentId"], {"assignedTo": ""}).json()
    assert body["assignedTo"] is None
    assert body["status"] == before["status"] and body["tags"] == before["tags"]


@pytest.mark.parametrize(
    ("classification", "determination"),
    [
        ("TruePositive", "CompromisedAccount"),
        ("TruePositive", "CompromisedUser"),
        ("InformationalExpectedActivity", "ConfirmedActivity"),
        ("InformationalExpectedActivity", "ConfirmedUserActivity"),
        ("FalsePositive", "NoEnoughDataToValidate"),
        ("FalsePositive", "InsufficientData"),
    ],
)
def test_patch_accepts_both_determination_spellings_and_echoes_them(
    wire: Client, rw_token: str, classification: str, determination: str
) -> None:
    incident = _first_open(wire, rw_token)
    body = {"classification": classification, "determination": determination}
    resp = _patch(wire, rw_token, incident["incidentId"], body)
    assert resp.status_code == 200
    assert resp.json()["determination"] == determination


@pytest.mark.parametrize(
    "body",
    [
        {"status": "Closed"},
        {"classification": "Unknown"},
        {"determination": "Apt"},
        {"Status": "Resolved"},
        {"tags": "one"},
        {"assignedTo": 5},
        {"comment": ["x"]},
        ["status", "Resolved"],
    ],
)
def test_patch_with_a_bad_body_is_400_invalid_request_body(
    wire: Client, rw_token: str, body: Any
) -> None:
    incident = _first_open(wire, rw_token)
    resp = _patch(wire, rw_token, incident["incidentId"], body)
    assert resp.status_code == 400
    assert resp.json()["error"]["code"] == "InvalidRequestBody"


def test_patch_needs_json_and_a_known_id(wire: Client, rw_token: str) -> None:
    incident = _first_open(wire, rw_token)
    not_json = wire.api(
        "PATCH",
        f"/api/incidents/{incident['incidentId']}",
        rw_token,
        data="status=Resolved",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert not_json.status_code == 400
    assert not_json.json()["error"]["code"] == "InvalidRequestBody"
    broken = wire.api(
        "PATCH",
        f"/api/incidents/{incident['incidentId']}",
        rw_token,
        data="{not json",
        headers={"Content-Type": "application/json"},
    )
    assert broken.json()["error"]["code"] == "InvalidRequestBody"
    missing = _patch(wire, rw_token, 999999999, {"status": "Resolved"})
    assert missing.status_code == 404


def test_patch_with_a_read_only_token_is_403(wire: Client) -> None:
    token = wire.token("Contoso")
    incident = _first_open(wire, token)
    resp = _patch(wire, token, incident["incidentId"], {"status": "Resolved"})

    assert resp.status_code == 403
    assert resp.json()["error"] == {
        "code": "Forbidden",
        "message": "The application does not have any of the required application permissions "
        "(Incident.ReadWrite.All) to access the resource.",
        "target": resp.json()["error"]["target"],
    }


def test_hunting_returns_stats_schema_and_results_honouring_take(
    wire: Client, rw_token: str
) -> None:
    query = (
        "DeviceProcessEvents | where Timestamp > ago(7d) | project Timestamp, DeviceName | take 5"
    )
    resp = wire.api("POST", "/api/advancedhunting/run", rw_token, json={"Query": query})

    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert list(body) == ["Stats", "Schema", "Results"]
    assert {"ExecutionTime", "resource_usage", "dataset_statistics"} <= set(body["Stats"])
    assert body["Schema"] == [
        {"Name": "Timestamp", "Type": "DateTime"},
        {"Name": "DeviceName", "Type": "String"},
    ]
    assert len(body["Results"]) == 5
    week_ago = to_ticks(time.time() - 7 * 86400 - 60)
    assert all(list(r) == ["Timestamp", "DeviceName"] for r in body["Results"])
    assert all(parse_iso(r["Timestamp"]) >= week_ago for r in body["Results"])


@pytest.mark.parametrize(
    ("query", "rows", "schema"),
    [
        ("AlertInfo | limit 3", 3, None),
        ("EmailEvents | count", 1, [{"Name": "Count", "Type": "Int64"}]),
        (
            "IdentityLogonEvents | summarize count() by ActionType",
            2,
            [{"Name": "ActionType", "Type": "String"}, {"Name": "count_", "Type": "Int64"}],
        ),
        ("DeviceInfo | top 4 by Timestamp desc", 4, None),
        ("DeviceNetworkEvents | where ActionType == 'NoSuchAction'", 0, None),
    ],
)
def test_supported_hunting_shapes(
    wire: Client, rw_token: str, query: str, rows: int, schema: list | None
) -> None:
    body = wire.api("POST", "/api/advancedhunting/run", rw_token, json={"Query": query}).json()
    assert len(body["Results"]) == rows
    if schema is not None:
        assert body["Schema"] == schema


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"Query": "NoSuchTable | take 1"}, "BadRequest"),
        ({"Query": "DeviceInfo | where (Timestamp > ago(1d)"}, "BadRequest"),
        ({"Query": "DeviceInfo | join kind=inner (AlertInfo) on DeviceId"}, "BadRequest"),
        ({"Query": "DeviceInfo | project NoSuchColumn"}, "BadRequest"),
        ({"query": "DeviceInfo"}, "MissingRequiredParameter"),
    ],
)
def test_unsupported_hunting_queries_are_400(
    wire: Client, rw_token: str, body: dict[str, str], code: str
) -> None:
    resp = wire.api("POST", "/api/advancedhunting/run", rw_token, json=body)
    assert resp.status_code == 400
    assert resp.json()["error"]["code"] == code


def test_hunting_needs_its_own_role(wire: Client) -> None:
    resp = wire.api(
        "POST", "/api/advancedhunting/run", wire.token("Contoso"), json={"Query": "AlertInfo"}
    )
    assert resp.status_code == 403
    assert "(AdvancedHunting.Read.All)" in resp.json()["error"]["message"]
