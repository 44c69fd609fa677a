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
