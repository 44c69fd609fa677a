"""Unit tests of the emulator's building blocks: OData parser, throttle, deflate joiner, time."""

from __future__ import annotations

import zlib

import pytest

from emulator.deflate import Piece, ZlibJoiner
from emulator.odata import ODataQueryError, parse_filter, parse_list_query
from emulator.throttle import Throttle
from emulator.timeutil import format_ticks, parse_iso


def test_filter_parses_operators_and_parentheses() -> None:
    clauses = parse_filter(
        "(lastUpdateTime ge 2025-01-01T00:00:00.1234567Z) and status eq 'Active' and "
        "assignedTo eq 'o''brien@x.example'"
    )
    assert [(c.prop, c.op) for c in clauses] == [
        ("lastUpdateTime", "ge"),
        ("status", "eq"),
        ("assignedTo", "eq"),
    ]
    assert format_ticks(clauses[0].value) == "2025-01-01T00:00:00.1234567Z"
    assert clauses[2].value == "o'brien@x.example"


@pytest.mark.parametrize(
    "text",
    [
        "status gt 'Active'",
        "createdTime eq null",
        "assignedTo gt null",
        "createdTime ge 5",
        "lastUpdateTime ge 2025-01-01T00:00:00",
        "status eq 'Active' and",
        "(status eq 'Active'",
        "status eq 'Active' ; drop",
    ],
)
def test_filter_rejects_what_the_service_rejects(text: str) -> None:
    with pytest.raises(ODataQueryError):
        parse_filter(text)


def test_list_query_defaults_and_limits() -> None:
    q = parse_list_query({}, default_top=100, top_over_max="reject")
    assert (q.top, q.skip, q.top_given, q.clauses) == (100, 0, False, ())
    assert parse_list_query({"$top": "0"}, default_top=100, top_over_max="reject").top == 0
    assert parse_list_query({"$top": "250"}, default_top=100, top_over_max="clamp").top == 100
    assert parse_list_query({"api-version": "1"}, default_top=7, top_over_max="reject").top == 7


def test_throttle_sliding_windows_and_retry_after() -> None:
    t = Throttle()
    key = ("tid", "app", "incidents.list")
    assert [t.check(key, (2, 0), now) for now in (100.0, 110.0)] == [None, None]
    assert t.check(key, (2, 0), 130.0) == 30  # oldest (100) leaves at 160
    assert t.check(key, (2, 0), 159.5) == 1  # rounds up, never 0
    assert t.check(key, (2, 0), 160.5) is None
    assert t.check(("other",), (2, 0), 130.0) is None
    hourly = Throttle()
    for now in range(3):
        assert hourly.check(key, (0, 3), float(now)) is None
    assert hourly.check(key, (0, 3), 10.0) == 3590


def test_joined_deflate_pieces_form_one_valid_zlib_stream() -> None:
    parts = [b'{"value":[', b'{"a":1}', b",", b'{"b":"' + b"x" * 5000 + b'"}', b"]}"]
    joiner = ZlibJoiner()
    for part in parts[:-1]:
        joiner.add(Piece(part))
    joiner.add_plain(parts[-1])
    assert zlib.decompress(joiner.finish()) == b"".join(parts)


def test_datetime_round_trip_and_validation() -> None:
    for text in ("2025-02-17T09:14:22.5633333Z", "2025-02-17T09:14:22Z", "2025-02-17T09:14:22.71Z"):
        assert format_ticks(parse_iso(text)) == text
    assert parse_iso("2025-02-17T10:14:22+01:00") == parse_iso("2025-02-17T09:14:22Z")
    for bad in ("2025-02-30T00:00:00Z", "2025-02-17T09:14:22.123456789Z", "2025-02-17"):
        with pytest.raises(ValueError):
            parse_iso(bad)


def test_knobs_validate_ranges_and_update_atomically() -> None:
    from emulator.knobs import Knobs

    knobs = Knobs()
    with pytest.raises(ValueError, match=">= 300"):
        knobs.update({"token_expires_in": 299})
    with pytest.raises(ValueError):
        knobs.update({"next_link": True, "null_style": "weird"})
    assert knobs.next_link is False and knobs.null_style == "live"
    knobs.update({"consent_grants_roles": ["Incident.ReadWrite.All"]})
    assert knobs.granted_roles() == ["Incident.ReadWrite.All"]


def test_throttle_check_all_records_in_every_counter_or_in_none() -> None:
    t = Throttle()
    endpoint, overall = ("tid", "app", "incidents.get"), ("tid", "app", "incidents.overall")
    assert t.check_all([(endpoint, (1, 0)), (overall, (3, 0))], 100.0) is None
    # The endpoint counter is full: refused, and the overall counter is not charged.
    assert t.check_all([(endpoint, (1, 0)), (overall, (3, 0))], 110.0) == 50
    assert t.check(overall, (3, 0), 120.0) is None
    assert t.check(overall, (3, 0), 121.0) is None
    # Now the overall counter (100, 120, 121) is the full one; the wait is its oldest call's.
    assert t.check_all([(("tid", "app", "incidents.list"), (5, 0)), (overall, (3, 0))], 130.0) == 30


def test_incident_ids_are_ascii_longs() -> None:
    from emulator.defender import parse_incident_id

    assert parse_incident_id("9223372036854775807") == 2**63 - 1
    assert parse_incident_id("1000000000000000000") == 10**18
    assert parse_incident_id("0042") == 42
    for bad in ("9223372036854775808", "", "-1", "1.0", "²", "٣", "12 "):
        assert parse_incident_id(bad) is None, bad


def test_v1_discovery_document_is_the_v2_one_minus_the_v2_only_members() -> None:
    from emulator.identity import discovery_document

    v2 = discovery_document("https://h:1", "tid", v2=True)
    v1 = discovery_document("https://h:1", "tid", v2=False)

    assert list(v1) == [
        "token_endpoint",
        "token_endpoint_auth_methods_supported",
        "jwks_uri",
        "response_modes_supported",
        "subject_types_supported",
        "id_token_signing_alg_values_supported",
        "response_types_supported",
        "scopes_supported",
        "issuer",
        "authorization_endpoint",
        "end_session_endpoint",
        "claims_supported",
        "tenant_region_scope",
        "cloud_instance_name",
        "cloud_graph_host_name",
        "msgraph_host",
    ]
    assert (v1["token_endpoint"], v2["token_endpoint"]) == (
        "https://h:1/tid/oauth2/token",
        "https://h:1/tid/oauth2/v2.0/token",
    )
    assert (v1["jwks_uri"], v2["jwks_uri"]) == (
        "https://h:1/tid/discovery/keys",
        "https://h:1/tid/discovery/v2.0/keys",
    )
    assert (v1["issuer"], v2["issuer"]) == ("https://sts.windows.net/tid/", "https://h:1/tid/v2.0")
    common = discovery_document("https://h:1", "common", v2=False)
    assert common["issuer"] == "https://sts.windows.net/{tenantid}/"
    assert v1["response_types_supported"][-1] == "token id_token"
    assert v2["response_types_supported"][-1] == "id_token token"
    assert (v1["scopes_supported"], len(v2)) == (["openid"], 23)


def test_new_knobs_default_to_the_previous_behaviour_and_validate() -> None:
    from emulator.knobs import Knobs

    knobs = Knobs()
    assert (
        knobs.list_order,
        knobs.retry_after_header,
        knobs.error_description_separator,
        knobs.token_aud,
    ) == ("created_desc", True, "crlf", "app_id_uri")
    assert knobs.description_separator() == "\r\n"
    assert (knobs.rate_limit_per_minute, knobs.rate_limit_per_hour) == (50, 1500)
    for name, value in (
        ("list_order", "newest"),
        ("retry_after_header", "false"),
        ("error_description_separator", "\n"),
        ("token_aud", "guid"),
    ):
        with pytest.raises(ValueError, match=name):
            knobs.update({name: value})
    assert knobs == Knobs()
