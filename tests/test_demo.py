"""`make demo` keeps working: the demo script sets everything up on the embedded defaults."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.slow
def test_demo_sets_up_onboards_syncs_and_serves_the_login_page(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    result = subprocess.run(
        [
            sys.executable,
            "scripts/demo.py",
            "--smoke",
            "--port",
            str(free_port()),
            "--emulator-port",
            str(free_port()),
            "--var-dir",
            str(tmp_path / "var"),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "Partner Portal demo is running" in result.stdout
    assert "Pending customer: open its onboarding link" in result.stdout
    assert "demo smoke: login page 200" in result.stdout
