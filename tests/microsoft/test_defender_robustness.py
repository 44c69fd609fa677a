"""microsoft.defender with answers the emulator cannot give: 403 codes, broken bodies, odd
headers, next links to another origin, and the query string's spelling (§5.1, §9)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import pytest
import requests

from microsoft import defender, errors
from microsoft.defender import DefenderClient, same_origin
from microsoft.rate_limit import TenantRateLimiter
from tests.microsoft.fakes import API_URL, TENANT_ID, FakeSession, broken_deflate, page, reply

pytestmark = pytest.mark.usefixtures("fake_token")


class Sleeps(list):  # type: ignore[type-arg]
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture(autouse=True)
def _api_url(settings: Any) -> None:
    settings.DEFENDER_API_URL = API_URL


def client_with(session: FakeSession, **kwargs: Any) -> DefenderClient:
    return DefenderClient(TENANT_ID, session=session, sleep=Sleeps(), **kwargs)  # type: ignore[arg-type]


def forbidden(code: str, message: str = "") -> requests.Response:
    return reply(403, {"error": {"code": code, "message": message, "target": "t"}})


# -- 403: only "Forbidden" means missing roles (§9) -------------------------------------------


@pytest.mark.parametrize("code", ["DisabledFeature", "DisallowedOperation"])
def test_403_with_another_code_is_an_api_error_not_missing_roles(code: str) -> None:
    session = FakeSession(forbidden(code, "Advanced features are off."))

    with pytest.raises(errors.DefenderApiError) as info:
        client_with(session).list_incidents(top=1)

    assert not isinstance(info.value, errors.MissingRolesError)
    assert (info.value.status, info.value.code) == (403, code)
    assert f"refused the request ({code})" in info.value.message
    assert "not a missing permission" in info.value.message
    assert "Advanced features are off." in info.value.message


@pytest.mark.parametrize(
    "response",
    [forbidden("Forbidden"), reply(403, b""), reply(403, b"<html>denied</html>")],
    ids=["Forbidden", "empty body", "not JSON"],
)
def test_403_forbidden_or_without_a_code_means_missing_roles(response: requests.Response) -> None:
    with pytest.raises(errors.MissingRolesError) as info:
        client_with(FakeSession(response)).list_incidents(top=1)

    assert info.value.code == "HTTP 403"
    assert info.value.missing == ["Incident.Read.All"]


# -- transient bodies and the Date header --------------------------------------------------------


def test_broken_deflate_body_is_retried_like_a_dropped_connection() -> None:
    session = FakeSession(broken_deflate(), page([{"incidentId": 1}]))
    client = client_with(session)

    result = client.list_incidents(top=1)

    assert result.incidents == [{"incidentId": 1}]
    assert (client.stats.api_calls, client.stats.retries) == (2, 1)


def test_broken_deflate_bodies_give_up_as_transient_after_max_attempts() -> None:
    session = FakeSession(*(broken_deflate() for _ in range(defender.MAX_ATTEMPTS)))

    with pytest.raises(errors.TransientError) as info:
        client_with(session).list_incidents(top=1)

    assert "ContentDecodingError" in info.value.message
    assert len(session.urls) == defender.MAX_ATTEMPTS


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("Mon, 02 Jun 2025 14:05:11 -0000", datetime(2025, 6, 2, 14, 5, 11, tzinfo=UTC)),
        ("Mon, 02 Jun 2025 14:05:11 GMT", datetime(2025, 6, 2, 14, 5, 11, tzinfo=UTC)),
        ("Mon, 02 Jun 2025 16:05:11 +0200", datetime(2025, 6, 2, 14, 5, 11, tzinfo=UTC)),
        ("yesterday", None),
        ("Mon, 02 Jun 99999 14:05:11 GMT", None),
    ],
)
def test_server_time_is_always_aware_utc_or_none(header: str, expected: datetime | None) -> None:
    result = client_with(FakeSession(page(headers={"Date": header}))).list_incidents(top=1)

    assert result.server_time == expected
    if result.server_time is not None:
        assert result.server_time.utcoffset() is not None


# -- Retry-After (RFC 9110 §10.2.3), clamped to [1, 3600] s ---------------------------------------


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("17", 17.0),
        ("2.5", 2.5),
        ("0", 1.0),
        ("-30", 1.0),
        ("86400", 3600.0),
        ("1e400", 60.0),  # overflows to inf
        ("inf", 60.0),
        ("Infinity", 60.0),
        ("nan", 60.0),
        ("soon", 60.0),
        ("", 60.0),
        ("Mon, 02 Jun 2025 14:07:11 GMT", 120.0),  # HTTP-date, from the response's Date
        ("Mon, 02 Jun 2025 14:00:00 GMT", 1.0),  # already past
        ("Tue, 03 Jun 2025 14:05:11 GMT", 3600.0),  # a day away
    ],
)
def test_retry_after_is_read_in_both_forms_and_clamped(header: str, seconds: float) -> None:
    headers = {"Date": "Mon, 02 Jun 2025 14:05:11 GMT"}
    if header:
        headers["Retry-After"] = header
    limiter = TenantRateLimiter(max_wait=0)
    client = client_with(FakeSession(reply(429, {}, headers)), limiter=limiter)

    with pytest.raises(errors.ThrottledError) as info:
        client.list_incidents(top=1)

    assert info.value.retry_after == seconds
    assert seconds - 1 < limiter.blocked_for(TENANT_ID) <= seconds


def test_limiter_block_refuses_a_non_finite_time() -> None:
    with pytest.raises(ValueError):
        TenantRateLimiter().block(TENANT_ID, float("inf"))


# -- next links and origins (§5.1) -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "same"),
    [
        ("https://api.security.microsoft.com/api/incidents?$skip=100", True),
        ("https://api.security.microsoft.com:443/api/incidents?$skip=100", True),
        ("HTTPS://API.Security.Microsoft.com/api/incidents", True),
        ("https://api.security.microsoft.com:8443/api/incidents", False),
        ("http://api.security.microsoft.com/api/incidents", False),
        ("https://api-eu.security.microsoft.com/api/incidents", False),
        ("https://api.security.microsoft.com.attacker.example/api/incidents", False),
        ("https://api.security.microsoft.com@attacker.example/api/incidents", False),
        ("https://user@api.security.microsoft.com/api/incidents", False),
        ("https://api.security.microsoft.com:99999/api/incidents", False),
        ("/api/incidents?$skip=100", False),
        ("ftp://api.security.microsoft.com/api/incidents", False),
    ],
)
def test_same_origin_normalises_default_ports_and_refuses_lookalikes(url: str, same: bool) -> None:
    assert same_origin(url, API_URL) is same


def test_same_origin_compares_explicit_ports(settings: Any) -> None:
    assert same_origin("https://127.0.0.1:8443/api/incidents", "https://127.0.0.1:8443")
    assert not same_origin("https://127.0.0.1:8444/api/incidents", "https://127.0.0.1:8443")
    assert same_origin("https://localhost/x", "https://localhost:443")


def test_next_link_with_the_default_port_is_returned_and_followed() -> None:
    link = "https://api.security.microsoft.com:443/api/incidents?$top=100&$skip=100"
    session = FakeSession(page([{"incidentId": 2}], next_link=link), page([{"incidentId": 1}]))
    client = client_with(session)

    first = client.list_incidents(top=100)
    second = client.list_incidents_url(first.next_link or "")

    assert first.next_link == link
    assert second.incidents == [{"incidentId": 1}]
    assert session.urls[1] == link


@pytest.mark.parametrize(
    "link",
    [
        "https://attacker.example/api/incidents?$skip=100&token=secret-ish",
        "/api/incidents?$skip=100&token=secret-ish",
        "http://api.security.microsoft.com/api/incidents?$skip=100&token=secret-ish",
    ],
)
def test_next_link_to_another_origin_is_dropped_and_logged_without_its_query(
    link: str, caplog: pytest.LogCaptureFixture
) -> None:
    session = FakeSession(page([{"incidentId": 2}], next_link=link))

    with caplog.at_level(logging.WARNING, logger="microsoft.defender"):
        result = client_with(session).list_incidents(top=100)

    assert result.next_link is None
    assert result.incidents == [{"incidentId": 2}]
    (record,) = caplog.records
    assert "ignored_next_link=" in record.getMessage()
    assert "/api/incidents" in record.getMessage()
    assert "secret-ish" not in record.getMessage() and "$skip=" not in record.getMessage()
    assert len(session.urls) == 1


def test_a_next_link_to_another_origin_is_never_fetched() -> None:
    session = FakeSession()

    with pytest.raises(errors.BadResponseError) as info:
        client_with(session).list_incidents_url("https://attacker.example/api/incidents")

    assert info.value.code == "bad_next_link"
    assert session.urls == []


# -- the query string as the contract writes it (§5.1) -------------------------------------------


def test_list_query_keeps_dollar_and_colon_literal_and_spaces_as_plus() -> None:
    session = FakeSession(page())

    client_with(session).list_incidents(
        filter="lastUpdateTime ge 2025-01-01T00:00:00.0000000Z", top=100, skip=200
    )

    assert session.urls == [
        f"{API_URL}/api/incidents?$top=100&$skip=200"
        "&$filter=lastUpdateTime+ge+2025-01-01T00:00:00.0000000Z"
    ]
