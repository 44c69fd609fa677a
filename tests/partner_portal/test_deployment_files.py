"""docker-compose.yml declares the five processes with the commands the README documents."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


@pytest.fixture(scope="module")
def readme() -> str:
    return (ROOT / "README.md").read_text()


def test_compose_declares_web_worker_beat_postgres_redis_with_health_checks(compose: dict) -> None:
    services = compose["services"]
    assert sorted(services) == ["beat", "postgres", "redis", "web", "worker"]
    for name, service in services.items():
        assert "healthcheck" in service, name
    assert compose["volumes"] == {"postgres-data": None}
    assert services["postgres"]["volumes"] == ["postgres-data:/var/lib/postgresql/data"]


def test_compose_web_migrates_then_serves_with_the_readme_command(
    compose: dict, readme: str
) -> None:
    command = " ".join(compose["services"]["web"]["command"].split())
    assert command.startswith('sh -c "python manage.py migrate --noinput && gunicorn ')
    gunicorn = command.split("&& ", 1)[1].rstrip('"')
    assert gunicorn in readme
    assert "python manage.py migrate --noinput" in readme


@pytest.mark.parametrize("service", ["worker", "beat"])
def test_compose_worker_and_beat_use_the_readme_commands(
    compose: dict, readme: str, service: str
) -> None:
    assert compose["services"][service]["command"] in readme


def test_ci_runs_the_readme_test_command(readme: str) -> None:
    ci = (ROOT / ".ci" / "run").read_text()
    assert "make test" in ci and "make test" in readme
    assert "make demo" in readme
