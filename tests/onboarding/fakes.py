"""A stand-in for Entra ID and the Defender API in onboarding tests that need no emulator,
plus helpers that walk the consent flow through Django's test client."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client

from microsoft import defender, entra, errors
from onboarding import links
from tenants.models import Customer

TENANT = "6c2d8e4f-1a3b-4c5d-9e7f-0a1b2c3d4e5f"
OTHER_TENANT = "0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9"


@dataclass
class FakeMicrosoft:
    """Configure ``roles``, ``token_error`` and ``probe_error``; inspect the calls made."""

    roles: list[str] = field(default_factory=lambda: ["Incident.Read.All"])
    token_error: errors.MicrosoftError | None = None
    probe_error: errors.MicrosoftError | None = None
    token_calls: list[tuple[str, bool]] = field(default_factory=list)
    probe_calls: list[tuple[str, str | None]] = field(default_factory=list)

    def get_token(self, tenant_id: str, *, fresh: bool = False) -> entra.AccessToken:
        self.token_calls.append((tenant_id, fresh))
        if self.token_error is not None:
            raise self.token_error
        claims: dict[str, Any] = {"tid": tenant_id, "aud": "https://api.security.microsoft.com"}
        if self.roles:
            claims["roles"] = list(self.roles)
        return entra.AccessToken(
            token=f"fresh-token-{tenant_id}",
            tenant_id=tenant_id,
            claims=claims,
            from_cache=False,
            expires_in=3599,
        )


@pytest.fixture(autouse=True)
def _fresh_defender_session() -> Iterator[None]:
    """Drop the per-process Defender API session around each test: it keeps the CA bundle of
    the settings it was built with, and tests switch between the emulator and no Microsoft."""
    sessions = getattr(defender, "_shared_sessions", {})
    sessions.clear()
    yield
    sessions.clear()


@pytest.fixture
def fake_microsoft(monkeypatch: pytest.MonkeyPatch) -> FakeMicrosoft:
    fake = FakeMicrosoft()
    monkeypatch.setattr(entra, "get_token", fake.get_token)

    def list_incidents(self: defender.DefenderClient, **kwargs: Any) -> defender.IncidentPage:
        fake.probe_calls.append((self.tenant_id, self._token.token if self._token else None))
        assert kwargs == {"top": 1}
        if fake.probe_error is not None:
            raise fake.probe_error
        return defender.IncidentPage(incidents=[], next_link=None, raw_size=2)

    monkeypatch.setattr(defender.DefenderClient, "list_incidents", list_incidents)
    return fake


def link_path(customer: Customer) -> str:
    """Path of the customer's active onboarding link (issuing one if needed)."""
    link = links.active_link(customer) or links.issue_link(customer=customer, actor_label="test")
    return urlsplit(links.link_url(link)).path


def start_consent(client: Client, customer: Customer) -> tuple[str, dict[str, list[str]]]:
    """Open the onboarding link and press the button; return (Microsoft URL, its query)."""
    path = link_path(customer)
    assert client.get(path).status_code == 200
    response = client.post(path + "consent/")
    assert response.status_code == 302
    location = response["Location"]
    return location, parse_qs(urlsplit(location).query)


def minted_state(client: Client, customer: Customer) -> str:
    """The raw state of a consent started in ``client``'s session."""
    _, query = start_consent(client, customer)
    return query["state"][0]


def callback(client: Client, **params: str) -> Any:
    return client.get("/onboarding/callback/", params)
