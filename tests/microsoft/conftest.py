"""Fixtures of the Microsoft client tests."""

from __future__ import annotations

import pytest

from tests.microsoft.fakes import install_fake_token


@pytest.fixture
def fake_token(monkeypatch: pytest.MonkeyPatch) -> None:
    """``entra.get_token`` returns a fixed token without any call (see tests.microsoft.fakes)."""
    install_fake_token(monkeypatch)
