"""Pytest plugin: `pytest_plugins = ["emulator.pytest_plugin"]` (or `-p emulator.pytest_plugin`).

Fixtures:
  emulator_server (session): one EmulatorServer on a free port with small tenants, no churn.
  emulator (function): the same server, `.reset()` before each test.
  emulator_session (function): a requests.Session trusting only the emulator CA
    (trust_env=False, verify=ca_path), as the contract's §10.5 recommends.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from .directory import TenantSpec
from .server import EmulatorServer

#: Small tenants (fast to start): one per state, plus a second not-consented one and a
#: ReadWrite-capable consented tenant.
TEST_TENANTS = [
    TenantSpec(name="Contoso", state="consented", incidents=250),
    TenantSpec(name="Fabrikam", state="no_roles", incidents=12),
    TenantSpec(name="Northwind Traders", state="not_consented", incidents=40),
    TenantSpec(name="Tailspin Toys", state="not_consented", incidents=5),
    TenantSpec(
        name="Woodgrove Bank",
        state="consented",
        incidents=30,
        roles=["Incident.ReadWrite.All", "AdvancedHunting.Read.All"],
    ),
]
#: Seed of the session emulator (ids, names and incidents are derived from it).
TEST_SEED = 1234


@pytest.fixture(scope="session")
def emulator_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorServer]:
    """A started in-process emulator shared by the session (stopped at the end)."""
    server = EmulatorServer(
        tmp_path_factory.mktemp("emulator"),
        port=0,
        seed=TEST_SEED,
        tenants=TEST_TENANTS,
        prewarm=False,
    )
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def emulator(emulator_server: EmulatorServer) -> EmulatorServer:
    """The session emulator reset to its initial seeded state."""
    emulator_server.reset()
    return emulator_server


@pytest.fixture
def emulator_session(emulator_server: EmulatorServer) -> Iterator[requests.Session]:
    """requests.Session trusting the emulator CA and ignoring proxy/CA env vars."""
    session = requests.Session()
    session.trust_env = False
    session.verify = str(emulator_server.ca_path)
    try:
        yield session
    finally:
        session.close()
