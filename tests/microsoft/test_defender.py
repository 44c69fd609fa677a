"""microsoft.defender against the emulator: retries, re-auth, errors, limits (contract §5, §9)."""

from __future__ import annotations

from typing import Any

import pytest

from microsoft import defender, errors
from microsoft.defender import DefenderClient
from microsoft.rate_limit import TenantRateLimiter


class Sleeps(list):  # type: ignore[type-arg]
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def contoso(portal_emulator: Any) -> str:
    return str(portal_emulator.tenant(name="Contoso").tenant_id)


def client_for(tenant_id: str, sleeps: Sleeps | None = None) -> DefenderClient:
    return DefenderClient(tenant_id, sleep=sleeps if sleeps is not None else Sleeps())


def api_requests(emulator: Any) -> list[dict[str, Any]]:
    return [r for r in emulator.requests if r["kind"] == "api"]


def test_list_incidents_sends_filter_top_and_skip(portal_emulator: Any, contoso: str) -> None:
    client = client_for(contoso)

    page = client.list_incidents(filter="lastUpdateTime ge 2020-01-01T00:00:00.0000000Z", skip=200)

    (request,) = api_requests(portal_emulator)
    assert request["query"] == {
        "$top": "100",
        "$skip": "200",
        "$filter": "lastUpdateTime ge 2020-01-01T00:00:00.0000000Z",
    }
    assert len(page.incidents) == 50  # 250 incidents
    assert page.next_link is None
    assert page.server_time is not None
    assert client.stats.api_calls == 1
    assert client.stats.token_requests == 1


@pytest.mark.parametrize("kind", ["500", "503", "drop"])
def test_transient_failures_are_retried_with_bounded_jittered_backoff(
    portal_emulator: Any, contoso: str, kind: str
) -> None:
    portal_emulator.add_fault(kind, tenant_id=contoso, path_prefix="/api/", count=2)
    sleeps = Sleeps()
    client = client_for(contoso, sleeps)

    page = client.list_incidents(top=5)

    assert len(page.incidents) == 5
    assert client.stats.api_calls == 3
    assert client.stats.retries == 2
    assert len(sleeps) == 2
    assert 0 <= sleeps[0] <= 1.0 and 0 <= sleeps[1] <= 2.0


def test_persistent_5xx_gives_up_after_max_attempts(portal_emulator: Any, contoso: str) -> None:
    portal_emulator.add_fault("500", tenant_id=contoso, path_prefix="/api/", count=10)
    client = client_for(contoso)

    with pytest.raises(errors.TransientError) as info:
        client.list_incidents(top=5)

    assert "gave up after 4 attempts" in str(info.value)
    assert len(api_requests(portal_emulator)) == defender.MAX_ATTEMPTS


def test_slow_answer_hits_the_read_timeout_and_is_retried(
    portal_emulator: Any, contoso: str, settings: Any
) -> None:
    settings.MICROSOFT_READ_TIMEOUT = 0.3
    portal_emulator.add_fault("slow", tenant_id=contoso, path_prefix="/api/", delay=1.0)
    client = client_for(contoso)

    page = client.list_incidents(top=3)

    assert len(page.incidents) == 3
    assert client.stats.retries == 1


def test_429_raises_throttled_and_blocks_the_tenant_in_the_limiter(
    portal_emulator: Any, contoso: str
) -> None:
    portal_emulator.add_fault("429", tenant_id=contoso, path_prefix="/api/", retry_after=17)
    limiter = TenantRateLimiter(max_wait=0)
    client = DefenderClient(contoso, limiter=limiter, sleep=Sleeps())

    with pytest.raises(errors.ThrottledError) as info:
        client.list_incidents(top=5)

    assert info.value.retry_after == 17
    assert 16 < limiter.blocked_for(contoso) <= 17
    with pytest.raises(errors.ThrottledError):
        client.list_incidents(top=5)  # refused locally: no call before Retry-After
    assert len(api_requests(portal_emulator)) == 1


def test_expired_token_gets_one_reauthentication(portal_emulator: Any, contoso: str) -> None:
    client = client_for(contoso)
    client.list_incidents(top=1)
    # The emulator's clock moves past the token's exp; MSAL's cache still thinks it is valid.
    portal_emulator.knobs.clock_offset_seconds = 2 * 3600
    client2 = client_for(contoso)

    page = client2.list_incidents(top=1)

    assert len(page.incidents) == 1
    statuses = [r["status"] for r in api_requests(portal_emulator)]
    assert statuses == [200, 401, 200]
    assert client2.stats.token_requests == 1


def test_403_means_missing_roles(portal_emulator: Any) -> None:
    fabrikam = str(portal_emulator.tenant(name="Fabrikam").tenant_id)

    with pytest.raises(errors.MissingRolesError) as info:
        client_for(fabrikam).list_incidents(top=1)

    assert info.value.code == "HTTP 403"
    assert info.value.missing == ["Incident.Read.All"]


def test_malformed_json_is_a_bad_response(portal_emulator: Any, contoso: str) -> None:
    portal_emulator.add_fault("malformed_json", tenant_id=contoso, path_prefix="/api/")

    with pytest.raises(errors.BadResponseError) as info:
        client_for(contoso).list_incidents(top=5)

    assert info.value.code == "malformed_json"


def test_body_over_the_size_limit_is_refused(
    portal_emulator: Any, contoso: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(defender, "MAX_PAGE_BYTES", 10_000)

    with pytest.raises(errors.BadResponseError) as info:
        client_for(contoso).list_incidents(top=100)

    assert info.value.code == "oversized_page"


def test_next_link_is_followed_on_the_api_host_only(portal_emulator: Any, contoso: str) -> None:
    portal_emulator.knobs.next_link = True
    client = client_for(contoso)
    first = client.list_incidents(top=100)
    assert first.next_link is not None

    second = client.list_incidents_url(first.next_link)
    assert len(second.incidents) == 100
    assert api_requests(portal_emulator)[-1]["query"]["$skip"] == "100"

    with pytest.raises(errors.BadResponseError) as info:
        client.list_incidents_url("https://attacker.example/api/incidents?$skip=100")
    assert info.value.code == "bad_next_link"
    assert len(api_requests(portal_emulator)) == 2


def test_top_over_100_is_refused_before_any_call(portal_emulator: Any, contoso: str) -> None:
    with pytest.raises(ValueError):
        client_for(contoso).list_incidents(top=101)
    assert api_requests(portal_emulator) == []
