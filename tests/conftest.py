"""Shared fixtures: personas (administrator, two analysts, outsider), customers, and the
portal wired to the local Microsoft emulator.

Services: tests use PostgreSQL and Redis when DATABASE_URL / REDIS_URL point at them (CI does);
tests marked ``postgres`` or ``redis`` are skipped, with the reason printed, when they do not.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings
from django.core.cache import cache
from django.db import connection

from tests import factories

pytest_plugins = ["emulator.pytest_plugin"]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip postgres/redis-marked tests, saying why, when those services are not configured."""
    no_pg = not settings.DATABASES["default"]["ENGINE"].endswith("postgresql")
    no_redis = not settings.REDIS_URL
    for item in items:
        if no_pg and item.get_closest_marker("postgres"):
            item.add_marker(pytest.mark.skip(reason="needs PostgreSQL: set DATABASE_URL"))
        if no_redis and item.get_closest_marker("redis"):
            item.add_marker(pytest.mark.skip(reason="needs Redis: set REDIS_URL"))


def pytest_report_header(config: pytest.Config) -> list[str]:
    """Say which database and broker the run uses."""
    engine = settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
    redis = "yes" if settings.REDIS_URL else "no (tests marked redis skip)"
    return [f"database: {engine}; redis: {redis}"]


@pytest.fixture(autouse=True)
def _clear_cache() -> Iterator[None]:
    """Each test starts with an empty Django cache (tokens, limiter, locks)."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def admin_user(db: Any) -> Any:
    """MSSP administrator persona: onboarding and every customer."""
    return factories.administrator(username="alice-admin")


@pytest.fixture
def analyst_a(db: Any) -> Any:
    """Analyst persona assigned to customer_a only."""
    return factories.analyst(username="bob-analyst")


@pytest.fixture
def analyst_b(db: Any) -> Any:
    """Analyst persona assigned to customer_b only."""
    return factories.analyst(username="carol-analyst")


@pytest.fixture
def outsider(db: Any) -> Any:
    """A signed-in user with no role and no customer."""
    return factories.UserFactory(username="eve-outsider")


@pytest.fixture
def customer_a(analyst_a: Any) -> Any:
    customer = factories.ConnectedCustomerFactory(name="Contoso")
    customer.assigned_users.add(analyst_a)
    return customer


@pytest.fixture
def customer_b(analyst_b: Any) -> Any:
    customer = factories.ConnectedCustomerFactory(name="Fabrikam")
    customer.assigned_users.add(analyst_b)
    return customer


@pytest.fixture
def portal_emulator(emulator: Any, settings: Any) -> Iterator[Any]:
    """The emulator, with the portal's Microsoft settings pointing at it.

    Also clears the per-process MSAL apps, credential cache and Defender API sessions (each
    session fixes its CA bundle when built) so no state leaks between tests.
    """
    from microsoft import defender, entra

    settings.AZURE_AUTHORITY_HOST = emulator.url
    settings.DEFENDER_API_URL = emulator.url
    settings.AZURE_CLIENT_ID = emulator.client_id
    settings.AZURE_CLIENT_SECRET = emulator.client_secret
    settings.AZURE_CLIENT_CERTIFICATE_PATH = ""
    settings.REQUESTS_CA_BUNDLE = str(emulator.ca_path)
    entra.client_credential.cache_clear()
    entra._apps.clear()
    defender._shared_sessions.clear()
    yield emulator
    entra.client_credential.cache_clear()
    entra._apps.clear()
    defender._shared_sessions.clear()


@pytest.fixture
def _db_is_postgres() -> bool:
    return connection.vendor == "postgresql"


def pytest_sessionstart(session: pytest.Session) -> None:
    """With PORTAL_REQUIRE_SERVICES=1 (CI), refuse to run without PostgreSQL and Redis."""
    import os

    if os.environ.get("PORTAL_REQUIRE_SERVICES") == "1":
        engine = settings.DATABASES["default"]["ENGINE"]
        if not engine.endswith("postgresql") or not settings.REDIS_URL:
            pytest.exit("PORTAL_REQUIRE_SERVICES=1 but DATABASE_URL/REDIS_URL are not set", 2)
