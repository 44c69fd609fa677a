"""microsoft.http.build_session: proxies from the environment, NO_PROXY honoured with
``trust_env=False`` (contract §10.5)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from microsoft import defender, entra
from microsoft.defender import DefenderClient
from microsoft.http import build_session

# Nothing listens on the discard port: a request sent through this proxy fails at once.
DEAD_PROXY = "http://127.0.0.1:9"


@pytest.fixture
def proxy_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """A clean proxy environment: HTTPS_PROXY/HTTP_PROXY at a dead proxy, no NO_PROXY yet."""
    for name in ("http_proxy", "https_proxy", "no_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)
    monkeypatch.setenv("HTTPS_PROXY", DEAD_PROXY)
    monkeypatch.setenv("HTTP_PROXY", DEAD_PROXY)
    yield monkeypatch


def discovery_url(emulator: Any) -> str:
    tenant = emulator.tenant(name="Contoso").tenant_id
    return f"{emulator.url}/{tenant}/v2.0/.well-known/openid-configuration"


def test_no_proxy_hosts_resolve_to_no_proxy_and_others_to_the_proxy(
    proxy_env: pytest.MonkeyPatch,
) -> None:
    proxy_env.setenv("NO_PROXY", "127.0.0.1,.internal.example")

    session = build_session()

    assert session.no_proxy == "127.0.0.1,.internal.example"
    assert session.proxies == {"http": DEAD_PROXY, "https": DEAD_PROXY}
    assert session.proxies_for("https://127.0.0.1:8443/api/incidents") == {}
    assert session.proxies_for("https://login.internal.example/x") == {}
    assert session.proxies_for("https://api.security.microsoft.com/api/incidents") == {
        "http": DEAD_PROXY,
        "https": DEAD_PROXY,
    }


def test_request_to_a_no_proxy_host_goes_direct(
    portal_emulator: Any, proxy_env: pytest.MonkeyPatch
) -> None:
    proxy_env.setenv("NO_PROXY", "127.0.0.1")
    session = build_session()

    response = session.get(discovery_url(portal_emulator), timeout=5)

    assert response.status_code == 200
    assert "token_endpoint" in response.json()


def test_without_no_proxy_the_same_request_goes_to_the_proxy(
    portal_emulator: Any, proxy_env: pytest.MonkeyPatch
) -> None:
    session = build_session()

    with pytest.raises(requests.exceptions.ProxyError):
        session.get(discovery_url(portal_emulator), timeout=5)


def test_lowercase_no_proxy_wins_like_curl(proxy_env: pytest.MonkeyPatch) -> None:
    proxy_env.setenv("no_proxy", "127.0.0.1")
    proxy_env.setenv("NO_PROXY", "other.example")

    assert build_session().proxies_for("https://127.0.0.1:1/") == {}


def test_tokens_and_incidents_go_direct_to_a_no_proxy_host(
    portal_emulator: Any, proxy_env: pytest.MonkeyPatch
) -> None:
    proxy_env.setenv("NO_PROXY", "127.0.0.1")
    # Sessions built under this environment (the process's MSAL and Defender sessions).
    proxy_env.setattr(entra, "_session", None)
    defender._shared_sessions.clear()
    tenant_id = str(portal_emulator.tenant(name="Contoso").tenant_id)

    page = DefenderClient(tenant_id, sleep=lambda s: None).list_incidents(top=1)

    assert len(page.incidents) == 1
    assert [r["status"] for r in portal_emulator.requests if r["kind"] == "token"] == [200]
    defender._shared_sessions.clear()
