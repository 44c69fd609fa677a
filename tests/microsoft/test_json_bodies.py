"""microsoft.http.decode_json: strict, exact decoding of Microsoft's JSON bodies."""

from __future__ import annotations

import pytest

from microsoft.http import decode_json


def test_plain_body_decodes() -> None:
    assert decode_json(b'{"value":[{"incidentId":7,"score":1.5,"tags":[]}]}') == (
        {"value": [{"incidentId": 7, "score": 1.5, "tags": []}]},
        0,
    )


@pytest.mark.parametrize(
    "number", [18446744073709551616, -9223372036854775809, 123456789012345678901234567890]
)
def test_integers_beyond_64_bits_keep_every_digit(number: int) -> None:
    value, _ = decode_json(b'{"n":%d}' % number)

    assert value == {"n": number}
    assert type(value["n"]) is int


def test_nul_escapes_become_replacement_characters_and_are_counted() -> None:
    assert decode_json(b'{"a":"x\\u0000y","b":["\\u0000"]}') == (
        {"a": "x\ufffdy", "b": ["\ufffd"]},
        2,
    )


def test_the_text_backslash_u0000_is_not_a_nul_and_is_kept() -> None:
    # JSON "\\u0000" is a backslash followed by "u0000"; "\\\u0000" is a backslash then NUL.
    assert decode_json(b'["x\\\\u0000y","x\\\\\\u0000y"]') == (["x\\u0000y", "x\\\ufffdy"], 1)


@pytest.mark.parametrize(
    "body",
    [
        b'{"a":NaN}',
        b'{"a":Infinity}',
        b'{"a":1e400}',
        b'{"big":123456789012345678901234567890,"a":NaN}',  # the exact-integer path too
        b'{"big":123456789012345678901234567890,"a":-1e400}',
        b'{"a":"\xff"}',
        b'{"a":',
    ],
)
def test_what_is_not_strict_json_is_refused(body: bytes) -> None:
    with pytest.raises(ValueError):
        decode_json(body)
