"""`python -m emulator serve` (data dir contract) and the HTTP admin endpoints."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests

from emulator.cli import build_parser, knobs_from_args
from emulator.directory import default_tenant_specs
from tests.emulator.helpers import Client

ROOT = Path(__file__).resolve().parents[2]


def test_serve_writes_the_data_dir_answers_https_and_stops_on_sigterm(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "emulator",
            "serve",
            "--port",
            "0",
            "--data-dir",
            str(tmp_path),
            "--sizes",
            "30,5,10,4",
            "--churn-seconds",
            "0",
            "--quiet",
            "--seed",
            "9",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 30
        while not (tmp_path / "config.json").exists():
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline
            time.sleep(0.05)
        config = json.loads((tmp_path / "config.json").read_text())

        assert config["authority_host"] == config["api_url"]
        assert config["authority_host"].startswith("https://127.0.0.1:")
        assert config["admin_url"] == config["authority_host"] + "/_emulator"
        assert Path(config["ca_path"]) == (tmp_path / "ca.pem").resolve()
        assert Path(config["client_certificate_path"]) == (tmp_path / "client_cert.pem").resolve()
        assert {"client_id", "client_secret"} <= set(config)
        states = [t["state"] for t in config["tenants"]]
        assert states == ["consented", "no_roles", "not_consented", "not_consented"]
        assert [t["incidents"] for t in config["tenants"]] == [30, 5, 10, 4]
        assert (tmp_path / "ca-key.pem").stat().st_mode & 0o077 == 0

        session = requests.Session()
        session.trust_env = False
        session.verify = config["ca_path"]
        tid = config["tenants"][0]["tenant_id"]
        doc = session.get(f"{config['authority_host']}/{tid}/v2.0/.well-known/openid-configuration")
        assert doc.json()["token_endpoint"].endswith(f"/{tid}/oauth2/v2.0/token")
        localhost = config["authority_host"].replace("127.0.0.1", "localhost")
        assert session.get(f"{localhost}/{tid}/discovery/v2.0/keys").status_code == 200

        admin = {"X-Emulator-Key": config["client_secret"]}
        session.post(
            f"{config['admin_url']}/tenants/{tid}/state", json={"state": "no_roles"}, headers=admin
        ).raise_for_status()
        rewritten = json.loads((tmp_path / "config.json").read_text())
        assert rewritten["tenants"][0]["state"] == "no_roles"
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0


def test_cli_options_map_to_knobs_and_tenants() -> None:
    args = build_parser().parse_args(
        [
            "serve",
            "--null-style",
            "doc",
            "--next-link",
            "--top-over-max",
            "clamp",
            "--token-expires-in",
            "4000",
            "--consent-grants-roles",
            "Incident.ReadWrite.All",
            "--rate-limit-per-minute",
            "7",
            "--tenants",
            "4",
            "--sizes",
            "10,20",
        ]
    )
    knobs = knobs_from_args(args)
    assert (knobs.null_style, knobs.next_link, knobs.top_over_max) == ("doc", True, "clamp")
    assert knobs.token_expires_in == 4000 and knobs.rate_limit_per_minute == 7
    assert knobs.consent_grants_roles == ["Incident.ReadWrite.All"]
    specs = default_tenant_specs(args.tenants, args.sizes, args.states)
    assert [(s.state, s.incidents) for s in specs] == [
        ("consented", 10),
        ("no_roles", 20),
        ("not_consented", 10),
        ("not_consented", 20),
    ]
    default = default_tenant_specs()
    assert len(default) == 6 and {s.state for s in default} == {
        "consented",
        "no_roles",
        "not_consented",
    }


def test_admin_endpoints_need_the_key_and_drive_the_emulator(wire: Client) -> None:
    admin = wire.emulator.url + "/_emulator"
    key = {"X-Emulator-Key": wire.emulator.client_secret}
    assert wire.http.get(f"{admin}/state").status_code == 401
    assert wire.http.get(f"{admin}/state", headers={"X-Emulator-Key": "x"}).status_code == 401

    state = wire.http.get(f"{admin}/state", headers=key).json()
    assert [t["name"] for t in state["tenants"]][:2] == ["Contoso", "Fabrikam"]
    knobs = wire.http.post(f"{admin}/knobs", json={"next_link": True}, headers=key).json()
    assert knobs["next_link"] is True and wire.emulator.knobs.next_link is True
    bad = wire.http.post(f"{admin}/knobs", json={"nope": 1}, headers=key)
    assert bad.status_code == 400

    tid = wire.tenant_id("Contoso")
    made = wire.http.post(
        f"{admin}/tenants/{tid}/incidents", json={"severity": "High"}, headers=key
    ).json()
    assert made["severity"] == "High"
    changed = wire.http.post(
        f"{admin}/tenants/{tid}/incidents/{made['incidentId']}",
        json={"status": "Resolved"},
        headers=key,
    ).json()
    assert changed["status"] == "Resolved"
    fault = wire.http.post(
        f"{admin}/faults", json={"kind": "503", "path_prefix": "/api/"}, headers=key
    ).json()
    assert fault["kind"] == "503"
    assert wire.api("GET", "/api/incidents", wire.token("Contoso")).status_code == 503
    assert len(wire.http.post(f"{admin}/churn", json={"steps": 3}, headers=key).json()) == 3
    uris = wire.http.post(
        f"{admin}/redirect-uris", json={"uri": "https://p.example/cb"}, headers=key
    ).json()
    assert "https://p.example/cb" in uris["redirect_uris"]
    expired = wire.http.post(f"{admin}/secret-expired", json={"expired": True}, headers=key)
    assert expired.json() == {"secret_expired": True}
    log = wire.http.get(f"{admin}/requests", headers=key).json()
    assert {"admin", "token", "api"} <= {r["kind"] for r in log}
    assert all("X-Emulator-Key" not in json.dumps(r) for r in log)
    reset = wire.http.post(f"{admin}/reset", headers=key).json()
    assert reset["knobs"]["next_link"] is False and reset["faults"] == []


def test_main_module_help_runs() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "emulator", "serve", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ},
    )
    assert "--data-dir" in out.stdout and "--fault" in out.stdout


def test_cli_defaults_are_the_knob_defaults() -> None:
    from emulator.knobs import Knobs

    assert knobs_from_args(build_parser().parse_args(["serve"])) == Knobs()


def test_cli_options_for_the_open_contract_points() -> None:
    args = build_parser().parse_args(
        [
            "serve",
            "--list-order",
            "unstable",
            "--no-retry-after-header",
            "--error-description-separator",
            "space",
            "--token-aud",
            "app_id",
        ]
    )
    knobs = knobs_from_args(args)
    assert (
        knobs.list_order,
        knobs.retry_after_header,
        knobs.error_description_separator,
        knobs.token_aud,
    ) == ("unstable", False, "space", "app_id")


def test_admin_knobs_set_the_new_knobs_and_reset_restores_them(wire: Client) -> None:
    admin = wire.emulator.url + "/_emulator"
    key = {"X-Emulator-Key": wire.emulator.client_secret}
    values = {
        "list_order": "unstable",
        "retry_after_header": False,
        "error_description_separator": "space",
        "token_aud": "app_id",
    }
    knobs = wire.http.post(f"{admin}/knobs", json=values, headers=key).json()
    assert {k: knobs[k] for k in values} == values
    reset = wire.http.post(f"{admin}/reset", headers=key).json()
    assert {k: reset["knobs"][k] for k in values} == {
        "list_order": "created_desc",
        "retry_after_header": True,
        "error_description_separator": "crlf",
        "token_aud": "app_id_uri",
    }
