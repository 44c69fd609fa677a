"""Fixtures of the sync tests: customers mapped to emulator tenants, fast clients."""

from __future__ import annotations

from typing import Any

import pytest

from microsoft.defender import DefenderClient
from microsoft.rate_limit import TenantRateLimiter
from tests import factories


class Sleeps:
    """Records requested sleeps instead of sleeping (retry backoff, limiter waits)."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def contoso(portal_emulator: Any, db: Any) -> Any:
    """A connected customer for the emulator's consented "Contoso" tenant (250 incidents)."""
    tenant = portal_emulator.tenant(name="Contoso")
    return factories.ConnectedCustomerFactory(name="Contoso Ltd", tenant_id=tenant.tenant_id)


@pytest.fixture
def woodgrove(portal_emulator: Any, db: Any) -> Any:
    """A connected customer for the emulator's consented "Woodgrove Bank" tenant (30)."""
    tenant = portal_emulator.tenant(name="Woodgrove Bank")
    return factories.ConnectedCustomerFactory(name="Woodgrove", tenant_id=tenant.tenant_id)


@pytest.fixture
def make_client(sleeps: Sleeps) -> Any:
    """``make_client(customer)``: a DefenderClient whose backoff and limiter waits don't sleep."""

    def make(customer: Any, **limits: Any) -> DefenderClient:
        limiter = TenantRateLimiter(sleep=sleeps, **limits)
        return DefenderClient(str(customer.tenant_id), limiter=limiter, sleep=sleeps)

    return make


def api_calls(emulator: Any, tenant_id: str | None = None) -> list[dict[str, Any]]:
    """The emulator's logged Defender API requests (optionally of one tenant)."""
    return [
        r
        for r in emulator.requests
        if r["kind"] == "api" and (tenant_id is None or r.get("tenant_id") == str(tenant_id))
    ]


def token_calls(emulator: Any, tenant_id: str | None = None) -> list[dict[str, Any]]:
    """The emulator's logged token requests (optionally of one tenant)."""
    return [
        r
        for r in emulator.requests
        if r["kind"] == "token" and (tenant_id is None or r.get("tenant_id") == str(tenant_id))
    ]
