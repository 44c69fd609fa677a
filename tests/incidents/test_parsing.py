"""incidents.parsing and incidents.payload: validation of Defender incident pages (§5.3–§5.7)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from incidents.parsing import PayloadError, parse_incident_page
from incidents.payload import format_filter_datetime, parse_datetime
from tests.incidents.samples import OTHER_TENANT, TENANT, doc_incident, live_incident, page


def parse(value: Any) -> Any:
    return parse_incident_page(value, tenant_id=TENANT)


def reject(value: Any) -> PayloadError:
    with pytest.raises(PayloadError) as info:
        parse(value)
    return info.value


def test_doc_and_live_styles_both_parse() -> None:
    doc, live = parse(page())

    assert doc.incident_id == 48213
    assert doc.incident_uri == ""
    assert doc.created_time == datetime(2025, 2, 17, 9, 14, 22, 563333, tzinfo=UTC)
    assert doc.last_update_time == datetime(2025, 2, 17, 9, 14, 22, 710000, tzinfo=UTC)
    assert doc.assigned_to == ""
    assert doc.alerts[0].classification == ""
    assert doc.alerts[0].resolved_time is None
    assert [e["entityType"] for e in doc.alerts[0].entities] == ["Ip", "MailBox"]
    assert live.incident_uri.endswith(f"/incidents/48240?tid={TENANT}")
    assert live.severity == "High"
    assert live.status == "InProgress"
    assert live.tags == ["demo"]
    alert = live.alerts[0]
    assert alert.alert_id == "da638754033251234567_1288344712"
    assert alert.service_source == "MicrosoftDefenderForEndpoint"
    assert alert.mitre_techniques == ["T1204.002"]
    assert alert.devices[0]["mdatpDeviceId"] == "7c1e4a9b2d3f4e5a6b7c8d9e0f1a2b3c4d5e6f70"
    assert alert.entities[1]["DeviceId"] == "7c1e4a9b2d3f4e5a6b7c8d9e0f1a2b3c4d5e6f70"


def test_unknown_extra_fields_are_kept_in_raw() -> None:
    incident = live_incident(futureField={"x": 1})
    incident["alerts"][0]["newAlertKey"] = "kept"
    (parsed,) = parse([incident])

    assert parsed.raw["futureField"] == {"x": 1}
    assert "alerts" not in parsed.raw
    assert parsed.alerts[0].raw["newAlertKey"] == "kept"
    assert parsed.alerts[0].raw["providerAlertId"] == "da638754033251234567_1288344712"
    assert "devices" not in parsed.alerts[0].raw
    assert "entities" not in parsed.alerts[0].raw


def test_search_text_holds_names_users_mailboxes_devices_ips_files_urls() -> None:
    doc, live = parse(page())

    # The alert title "Activity from an anonymous proxy" is inside the name: left out.
    assert doc.search_text().split("\n") == [
        "activity from an anonymous proxy involving one user",
        "198.51.100.23",
        "anna.doc@contoso-demo.example",
    ]
    assert live.search_text().split("\n") == [
        "malicious attachment opened on one endpoint",
        "document macro launched a script host",
        "j.kowalski@fabrikam-demo.example",  # the account name "j.kowalski" is inside
        "invoice_0217.docm",
        "https://phish.example/login",
        "fin-ws-017.fabrikam-demo.example",
    ]


def test_search_text_leaves_out_terms_inside_longer_ones_but_still_matches_them() -> None:
    incident = live_incident(incidentName="Phish")
    alert = incident["alerts"][0]
    alert["title"] = "Phishing mail\nreported"  # a term with a line break is always kept
    alert["entities"] = [
        {"entityType": "User", "accountName": "Ann", "userPrincipalName": "ann@x.example"},
        {"entityType": "Mailbox", "mailboxAddress": "ANN@X.EXAMPLE"},
        {"entityType": "Url", "url": "mail\nrep"},
        {"entityType": "Ip", "ipAddress": "10.0.0.1"},
    ]
    alert["devices"] = [{"deviceDnsName": "x.example"}]
    (parsed,) = parse([incident])

    text = parsed.search_text()

    assert text == "phishing mail\nreported\nann@x.example\nmail\nrep\n10.0.0.1"
    for term in ("phish", "ann", "x.example", "mail\nrep"):  # every term still matches
        assert term in text


def test_service_sources_are_distinct_and_sorted() -> None:
    incident = live_incident()
    second = dict(
        incident["alerts"][0], alertId="fa1", serviceSource="MicrosoftDefenderForOffice365"
    )
    third = dict(incident["alerts"][0], alertId="da2")
    incident["alerts"] += [second, third]
    (parsed,) = parse([incident])

    assert parsed.service_sources == [
        "MicrosoftDefenderForEndpoint",
        "MicrosoftDefenderForOffice365",
    ]


@pytest.mark.parametrize(
    ("field", "path"),
    [
        ("incidentId", "value[1].incidentId"),
        ("lastUpdateTime", "value[1].lastUpdateTime"),
        ("createdTime", "value[1].createdTime"),
        ("severity", "value[1].severity"),
        ("status", "value[1].status"),
        ("incidentName", "value[1].incidentName"),
    ],
)
def test_missing_required_incident_field_is_rejected(field: str, path: str) -> None:
    incident = live_incident()
    del incident[field]

    error = reject([doc_incident(), incident])

    assert error.path == path
    assert error.code == "bad_payload"
    assert str(error) == f"bad_payload: {path}: required field is missing"


def test_missing_alert_id_is_rejected() -> None:
    incident = live_incident()
    del incident["alerts"][0]["alertId"]

    assert reject([incident]).path == "value[0].alerts[0].alertId"


@pytest.mark.parametrize(
    ("changes", "path", "message"),
    [
        ({"incidentId": "48240"}, "value[0].incidentId", "expected an integer, got a string"),
        ({"incidentId": True}, "value[0].incidentId", "expected an integer, got a boolean"),
        ({"incidentName": 7}, "value[0].incidentName", "expected a string, got an integer"),
        ({"severity": 3}, "value[0].severity", "expected a string, got an integer"),
        ({"tags": "demo"}, "value[0].tags", "expected an array, got a string"),
        ({"alerts": {}}, "value[0].alerts", "expected an array, got an object"),
        (
            {"redirectIncidentId": 1.5},
            "value[0].redirectIncidentId",
            "expected an integer, got a number",
        ),
        (
            {"lastUpdateTime": 1739790000},
            "value[0].lastUpdateTime",
            "expected an ISO 8601 date-time string, got an integer",
        ),
        (
            {"lastUpdateTime": "yesterday"},
            "value[0].lastUpdateTime",
            "not an ISO 8601 date-time: 'yesterday'",
        ),
    ],
)
def test_mistyped_incident_field_is_rejected(
    changes: dict[str, Any], path: str, message: str
) -> None:
    error = reject([live_incident(**changes)])

    assert error.path == path
    assert error.message == f"{path}: {message}"


def test_mistyped_alert_and_entity_values_are_rejected() -> None:
    incident = live_incident()
    incident["alerts"][0]["entities"][1] = "File"
    assert reject([incident]).path == "value[0].alerts[0].entities[1]"

    incident = live_incident()
    del incident["alerts"][0]["entities"][0]["entityType"]
    assert reject([incident]).path == "value[0].alerts[0].entities[0].entityType"

    incident = live_incident()
    incident["alerts"][0]["mitreTechniques"] = [1204]
    assert reject([incident]).path == "value[0].alerts[0].mitreTechniques[0]"

    assert reject([live_incident(), "not an incident"]).path == "value[1]"
    assert reject({"value": []}).path == "value"


@pytest.mark.parametrize(
    ("where", "field", "value"),
    [
        ("incident", "severity", "Critical"),
        ("incident", "status", "New"),
        ("incident", "classification", "Benign"),
        ("incident", "determination", "Spam"),
        ("alert", "severity", "Severe"),
        ("alert", "status", "Closed"),
        ("alert", "classification", "Maybe"),
    ],
)
def test_unknown_value_of_a_closed_enum_is_rejected(where: str, field: str, value: str) -> None:
    incident = live_incident()
    target = incident if where == "incident" else incident["alerts"][0]
    target[field] = value

    error = reject([incident])

    prefix = "value[0]" if where == "incident" else "value[0].alerts[0]"
    assert error.path == f"{prefix}.{field}"
    assert f"unknown value {value!r}" in error.message


def test_documented_alternate_spellings_and_casing_are_accepted() -> None:
    incident = live_incident(
        classification="truepositive", determination="CompromisedAccount", severity="high"
    )
    incident["alerts"][0].update(status="Active", determination="InsufficientData")
    other = doc_incident(determination="NoEnoughDataToValidate", classification="FalsePositive")
    other["alerts"][0]["status"] = "Unknown"

    first, second = parse([incident, other])

    assert (first.classification, first.determination, first.severity) == (
        "TruePositive",
        "CompromisedAccount",
        "High",
    )
    assert first.raw["severity"] == "high"
    assert (first.alerts[0].status, first.alerts[0].determination) == ("Active", "InsufficientData")
    assert second.determination == "NoEnoughDataToValidate"
    assert second.alerts[0].status == "Unknown"


def test_open_sets_accept_new_values() -> None:
    incident = live_incident()
    alert = incident["alerts"][0]
    alert.update(
        serviceSource="MicrosoftSentinel",
        detectionSource="CustomDetection",
        category="BrandNewTactic",
        investigationState="SomethingNew",
    )
    alert["entities"].append({"entityType": "CloudApplication", "appId": 11161})

    (parsed,) = parse([incident])

    assert parsed.alerts[0].service_source == "MicrosoftSentinel"
    assert parsed.alerts[0].detection_source == "CustomDetection"
    assert parsed.alerts[0].category == "BrandNewTactic"
    assert parsed.alerts[0].entities[-1] == {"entityType": "CloudApplication", "appId": 11161}


def test_incident_uri_of_another_tenant_is_rejected() -> None:
    incident = live_incident(
        incidentUri=f"https://security.microsoft.com/incidents/48240?tid={OTHER_TENANT}"
    )

    error = reject([doc_incident(), incident])

    assert error.code == "wrong_tenant"
    assert error.path == "value[1].incidentUri"
    assert OTHER_TENANT in error.message


def test_alert_aad_tenant_of_another_tenant_is_rejected_and_own_tenant_accepted() -> None:
    incident = live_incident()
    incident["alerts"][0]["aadTenantId"] = OTHER_TENANT.upper()
    assert reject([incident]).code == "wrong_tenant"

    incident["alerts"][0]["aadTenantId"] = TENANT.upper()
    (parsed,) = parse([incident])
    assert parsed.alerts[0].raw["aadTenantId"] == TENANT.upper()


def test_page_with_more_rows_than_requested_is_oversized() -> None:
    rows = [live_incident(incidentId=i) for i in range(101)]

    error = reject(rows)

    assert error.code == "oversized_page"
    assert error.message == "value: the page has 101 incidents, more than the 100 requested"
    assert len(parse(rows[:100])) == 100


def test_long_display_text_is_truncated_but_long_alert_id_is_rejected() -> None:
    (parsed,) = parse([live_incident(incidentName="x" * 600)])
    assert len(parsed.name) == 500
    assert len(parsed.raw["incidentName"]) == 600

    incident = live_incident()
    incident["alerts"][0]["alertId"] = "a" * 201
    assert reject([incident]).path == "value[0].alerts[0].alertId"


def test_datetimes_keep_microseconds_and_truncate_the_seventh_digit() -> None:
    assert parse_datetime("2025-02-17T09:14:22.5633339Z") == datetime(
        2025, 2, 17, 9, 14, 22, 563333, tzinfo=UTC
    )
    assert parse_datetime("2025-02-17T10:14:22+01:00") == datetime(
        2025, 2, 17, 9, 14, 22, tzinfo=UTC
    )
    assert parse_datetime("2025-02-17T09:14:22") == datetime(2025, 2, 17, 9, 14, 22, tzinfo=UTC)
    with pytest.raises(ValueError):
        parse_datetime("17/02/2025")


def test_filter_datetime_has_seven_fraction_digits_and_z() -> None:
    value = datetime(2025, 1, 1, 0, 0, 0, 120000, tzinfo=UTC)

    assert format_filter_datetime(value) == "2025-01-01T00:00:00.1200000Z"


@pytest.mark.parametrize("suffix", [f"?tid={TENANT}", "?tid=" + TENANT.upper(), ""])
def test_incident_uri_too_long_for_its_column_is_left_to_be_rebuilt(suffix: str) -> None:
    uri = "https://security.microsoft.com/incidents/48240/" + "x" * 480 + suffix
    (parsed,) = parse([live_incident(incidentUri=uri)])

    assert parsed.incident_uri == ""
    assert parsed.raw["incidentUri"] == uri


@pytest.mark.parametrize(
    ("field", "value"),
    [("incidentId", 2**63), ("redirectIncidentId", -(2**63) - 1), ("incidentId", 10**30)],
)
def test_integers_beyond_64_bits_are_rejected(field: str, value: int) -> None:
    error = reject([live_incident(**{field: value})])

    assert (error.code, error.path) == ("bad_payload", f"value[0].{field}")
    assert error.message == f"value[0].{field}: out of range: not a signed 64-bit integer"


def test_largest_64_bit_incident_id_is_accepted() -> None:
    (parsed,) = parse([live_incident(incidentId=2**63 - 1)])

    assert parsed.incident_id == 2**63 - 1


def test_unknown_enum_values_are_stored_as_sent_when_not_strict(
    caplog: pytest.LogCaptureFixture,
) -> None:
    incident = live_incident(severity="Critical", determination="BrandNewDetermination" * 3)
    incident["alerts"][0]["status"] = "AwaitingAction"

    with caplog.at_level("WARNING", logger="incidents.payload"):
        (parsed,) = parse_incident_page([incident], tenant_id=TENANT, strict_enums=False)

    assert (parsed.severity, parsed.alerts[0].status) == ("Critical", "AwaitingAction")
    assert parsed.determination == ("BrandNewDetermination" * 3)[:40]
    assert parsed.raw["determination"] == "BrandNewDetermination" * 3
    assert parsed.status == "InProgress"  # known values keep their documented spelling
    assert [r.getMessage() for r in caplog.records] == [
        "payload unknown_enum path=value[0].alerts[0].status value='AwaitingAction'",
        "payload unknown_enum path=value[0].determination value="
        f"{('BrandNewDetermination' * 3)[:40]!r}",
        "payload unknown_enum path=value[0].severity value='Critical'",
    ]
