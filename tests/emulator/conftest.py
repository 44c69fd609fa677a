"""Fixtures for the emulator contract tests (the emulator fixtures come from
emulator.pytest_plugin, loaded by tests/conftest.py)."""

from __future__ import annotations

import pytest
import requests

from emulator import EmulatorServer
from tests.emulator.helpers import Client


@pytest.fixture
def wire(emulator: EmulatorServer, emulator_session: requests.Session) -> Client:
    """HTTP helper bound to the freshly reset session emulator."""
    return Client(emulator, emulator_session)
