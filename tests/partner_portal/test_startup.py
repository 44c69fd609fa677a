"""Production start-up: a missing or malformed setting stops it with one line naming it."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

PRODUCTION_ENV = {
    "DJANGO_SETTINGS_MODULE": "partner_portal.settings.production",
    "SECRET_KEY": secrets.token_urlsafe(64),
    "ALLOWED_HOSTS": "portal.example.com",
    "PORTAL_URL": "https://portal.example.com",
    "DATABASE_URL": "postgres://portal:pw@db.example.com:5432/portal",
    "REDIS_URL": "redis://redis.example.com:6379/0",
    "AZURE_CLIENT_ID": "4b9e2c71-53d8-4f0a-9c6e-2d1f7a8b3e05",
    "AZURE_CLIENT_SECRET": "placeholder-secret",
}


def run_manage(
    env_overrides: dict[str, str | None], *args: str
) -> subprocess.CompletedProcess[str]:
    # Start from this environment minus what a test run adds (the browser tests' async flag).
    skip = {*PRODUCTION_ENV, "DJANGO_ALLOW_ASYNC_UNSAFE"}
    env = {k: v for k, v in os.environ.items() if k not in skip}
    env.update(PRODUCTION_ENV)
    for key, value in env_overrides.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    env["PORTAL_VAR_DIR"] = str(ROOT / "var" / "test-startup")
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"SECRET_KEY": None}, "Configuration error: SECRET_KEY is required in production"),
        ({"SECRET_KEY": "short"}, "Configuration error: SECRET_KEY must be at least 50"),
        ({"ALLOWED_HOSTS": None}, "Configuration error: ALLOWED_HOSTS is required"),
        ({"DATABASE_URL": None}, "Configuration error: DATABASE_URL is required"),
        ({"REDIS_URL": None}, "Configuration error: REDIS_URL is required"),
        ({"AZURE_CLIENT_ID": None}, "Configuration error: AZURE_CLIENT_ID is required"),
        ({"AZURE_CLIENT_ID": "not-a-guid"}, "Configuration error: AZURE_CLIENT_ID must be a GUID"),
        (
            {"AZURE_CLIENT_SECRET": None},
            "Configuration error: AZURE_CLIENT_SECRET or AZURE_CLIENT_CERTIFICATE_PATH is required",
        ),
        (
            {"PORTAL_URL": "portal.example.com"},
            "Configuration error: PORTAL_URL must be an absolute",
        ),
        (
            {"PORTAL_URL": "http://portal.example.com"},
            "Configuration error: PORTAL_URL must be an https",
        ),
        (
            {"AZURE_AUTHORITY_HOST": "http://login.example.com"},
            "Configuration error: AZURE_AUTHORITY_HOST must be an absolute https:// URL",
        ),
        (
            {"DEFENDER_API_URL": "ftp://api"},
            "Configuration error: DEFENDER_API_URL must be an absolute https:// URL",
        ),
    ],
)
def test_bad_production_setting_stops_startup_with_one_line(
    overrides: dict[str, str | None], expected: str
) -> None:
    result = run_manage(overrides, "check")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(expected)


def test_complete_production_settings_pass_deploy_check() -> None:
    result = run_manage({}, "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stderr
    assert "System check identified no issues" in result.stdout
