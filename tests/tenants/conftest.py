"""Fixtures of the tenants tests."""

from tests.onboarding.fakes import _fresh_defender_session, fake_microsoft  # noqa: F401
