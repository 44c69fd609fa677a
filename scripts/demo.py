"""`make demo`: the whole job on one machine, with nothing installed but Python.

Starts the local Microsoft emulator, migrates the embedded SQLite database, creates the demo
users, starts the web server (gunicorn), a Celery worker and beat on the embedded defaults
(kombu filesystem broker, database cache), onboards a few customers through the real admin-consent
flow (acting as each customer's administrator against the emulator's consent page), links one
through the manual v1 path, leaves one pending so you can click through it yourself, runs the
first sync, prints the URL and logins, and keeps everything running until Ctrl-C.

Options: --port (portal, 8000), --emulator-port (8443), --var-dir (var/), --smoke (exit 0 once
the dashboard shows synced incidents; used by the test suite).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin

import requests

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
BIN = Path(PYTHON).parent


class FormParser(HTMLParser):
    """Collects the forms of a page: action, method, inputs, selects and buttons."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict] = []
        self._select: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.forms.append(
                {
                    "action": a.get("action", ""),
                    "method": a.get("method", "get").lower(),
                    "fields": {},
                    "selects": {},
                    "buttons": [],
                }
            )
        elif not self.forms:
            return
        elif tag == "input" and a.get("name"):
            if a.get("type") in ("checkbox", "radio") and "checked" not in a:
                return
            self.forms[-1]["fields"][a["name"]] = a.get("value", "")
        elif tag == "button":
            self.forms[-1]["buttons"].append(a)
        elif tag == "select":
            self._select = a.get("name")
            self.forms[-1]["selects"][self._select] = []
        elif tag == "option" and self._select:
            self.forms[-1]["selects"][self._select].append(a.get("value", ""))

    def handle_endtag(self, tag: str) -> None:
        if tag == "select":
            self._select = None


def parse_forms(html: str) -> list[dict]:
    parser = FormParser()
    parser.feed(html)
    return [f for f in parser.forms if f["method"] == "post"]


def port_free(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


def wait_for(what: str, check, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except Exception:  # noqa: BLE001 - still starting
            pass
        time.sleep(0.3)
    raise SystemExit(f"demo: {what} did not come up within {timeout:.0f} s")


class Demo:
    """Owns the child processes and the environment they share."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.var = Path(args.var_dir).resolve()
        self.emulator_dir = self.var / "emulator"
        self.logs = self.var / "logs"
        self.portal_url = f"http://127.0.0.1:{args.port}"
        self.procs: list[tuple[str, subprocess.Popen]] = []
        self.env = dict(os.environ)
        for key in ("DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE"):
            self.env.pop(key, None)
        self.env.update(
            {
                "DJANGO_SETTINGS_MODULE": "partner_portal.settings.development",
                "PORTAL_VAR_DIR": str(self.var),
                "PORTAL_URL": self.portal_url,
                "MSSP_NAME": "Contoso Managed Security (demo)",
                "SYNC_SWEEP_SECONDS": "15",
                "SYNC_INTERVAL_SECONDS": "15",
                "PYTHONUNBUFFERED": "1",
            }
        )

    # -- processes --------------------------------------------------------------------------
    def start(self, name: str, argv: list[str]) -> subprocess.Popen:
        self.logs.mkdir(parents=True, exist_ok=True)
        log = open(self.logs / f"{name}.log", "ab")  # noqa: SIM115 - lives as long as the child
        proc = subprocess.Popen(
            argv,
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.procs.append((name, proc))
        return proc

    def manage(self, *argv: str, capture: bool = False) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [PYTHON, "manage.py", *argv], cwd=ROOT, env=self.env, text=True, capture_output=capture
        )
        if result.returncode != 0 and not capture:
            raise SystemExit(f"demo: manage.py {' '.join(argv)} failed")
        return result

    def stop_all(self) -> None:
        for _, proc in reversed(self.procs):
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for _, proc in self.procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)

    def smoke_check(self) -> int:
        """Exit status of --smoke: 0 when the login page is served and incidents were synced."""
        login = requests.get(f"{self.portal_url}/accounts/login/", timeout=10)
        count = (
            "from incidents.models import Incident; from tenants.models import Customer; "
            "print(Customer.objects.filter(consent_state='connected').count(), "
            "Incident.objects.count())"
        )
        out = self.manage("shell", "-c", count, capture=True).stdout.split()
        connected, incidents = (int(x) for x in out[-2:])
        print(
            f"demo smoke: login page {login.status_code}, {connected} connected customers, "
            f"{incidents} incidents",
            flush=True,
        )
        return 0 if login.status_code == 200 and connected >= 2 and incidents > 0 else 1

    # -- steps ------------------------------------------------------------------------------
    def start_emulator(self) -> dict:
        config_path = self.emulator_dir / "config.json"
        config_path.unlink(missing_ok=True)
        self.start(
            "emulator",
            [
                PYTHON,
                "-m",
                "emulator",
                "serve",
                "--port",
                str(self.args.emulator_port),
                "--data-dir",
                str(self.emulator_dir),
                "--churn-seconds",
                "20",
                "--redirect-uri",
                f"{self.portal_url}/onboarding/callback/",
            ],
        )
        wait_for("the Microsoft emulator", config_path.exists)
        config = json.loads(config_path.read_text())
        self.env.update(
            {
                "AZURE_CLIENT_ID": config["client_id"],
                "AZURE_CLIENT_SECRET": config["client_secret"],
                "AZURE_AUTHORITY_HOST": config["authority_host"],
                "DEFENDER_API_URL": config["api_url"],
                "DEFENDER_PORTAL_URL": config["authority_host"] + "/defender-portal",
                "REQUESTS_CA_BUNDLE": str(self.emulator_dir / "ca.pem"),
            }
        )
        return config

    def start_portal(self) -> None:
        self.start(
            "web",
            [
                str(BIN / "gunicorn"),
                "partner_portal.wsgi",
                "--bind",
                f"127.0.0.1:{self.args.port}",
                "--workers",
                "2",
                "--access-logfile",
                "-",
            ],
        )
        self.start(
            "worker",
            [
                str(BIN / "celery"),
                "-A",
                "partner_portal.celery",
                "worker",
                "--loglevel=INFO",
                "--concurrency=2",
            ],
        )
        self.start(
            "beat",
            [
                str(BIN / "celery"),
                "-A",
                "partner_portal.celery",
                "beat",
                "--loglevel=INFO",
                "--schedule",
                str(self.var / "celerybeat-schedule"),
            ],
        )
        wait_for(
            "the web server",
            lambda: requests.get(f"{self.portal_url}/healthz", timeout=2).status_code == 200,
        )

    def consent_as_customer_admin(self, link: str, tenant_id: str) -> str:
        """Follow an onboarding link like the customer's administrator: press the consent button,
        accept on the emulator's consent page for ``tenant_id``, land back on the portal."""
        browser = requests.Session()
        # REQUESTS_CA_BUNDLE in the environment would override verify (contract §10.5).
        browser.trust_env = False
        browser.verify = str(self.emulator_dir / "ca.pem")
        page = browser.get(link, timeout=10)
        page.raise_for_status()
        form = parse_forms(page.text)[0]
        response = browser.post(
            urljoin(page.url, form["action"] or page.url),
            data=form["fields"],
            headers={"Referer": page.url},
            timeout=30,
        )
        consent = response  # the emulator's consent page, after the portal's 302
        forms = parse_forms(consent.text)
        if not forms:
            raise SystemExit(f"demo: no consent form at {consent.url}")
        form = forms[0]
        data = dict(form["fields"])
        if "tenant" in form["selects"]:
            data["tenant"] = tenant_id
        accept: dict[str, str] = next((b for b in form["buttons"] if b.get("id") == "accept"), {})
        if accept.get("name"):
            data[accept["name"]] = accept.get("value", "")
        result = browser.post(
            urljoin(consent.url, form["action"] or consent.url), data=data, timeout=60
        )
        return result.text

    def onboard(self, config: dict) -> tuple[list[str], list[str], str | None]:
        """Returns (names connected by admin consent, names linked manually, pending link)."""
        tenants = config["tenants"]
        pending = [t for t in tenants if t["state"] == "not_consented"]
        connected: list[str] = []
        manual: list[str] = []
        left_pending = None
        for tenant in pending[:-1] if len(pending) > 1 else []:
            out = self.manage("onboarding_link", tenant["name"], capture=True)
            link = out.stdout.strip().splitlines()[-1] if out.returncode == 0 else ""
            if not link.startswith("http"):
                raise SystemExit(
                    f"demo: onboarding_link printed no link:\n{out.stdout}{out.stderr}"
                )
            self.consent_as_customer_admin(link, tenant["tenant_id"])
            connected.append(tenant["name"])
        if pending:
            out = self.manage("onboarding_link", pending[-1]["name"], capture=True)
            left_pending = out.stdout.strip().splitlines()[-1]
        for tenant in tenants:
            if tenant["state"] in ("consented", "no_roles"):
                # The manual (v1) path: the MSSP enters the tenant's verified domain.
                self.manage("connect_tenant", tenant["name"], tenant["domain"], capture=True)
                manual.append(tenant["name"])
        return connected, manual, left_pending

    def run(self) -> int:
        for port in (self.args.port, self.args.emulator_port):
            if not port_free(port):
                raise SystemExit(
                    f"demo: port {port} is in use; stop what uses it or pass --port/--emulator-port"
                )
        if (self.var / "portal.sqlite3").exists() and not self.args.keep_data:
            for name in (
                "portal.sqlite3",
                "portal.sqlite3-wal",
                "portal.sqlite3-shm",
                "celerybeat-schedule",
            ):
                (self.var / name).unlink(missing_ok=True)
            shutil.rmtree(self.var / "broker", ignore_errors=True)
        print("demo: starting the Microsoft emulator ...", flush=True)
        config = self.start_emulator()
        print("demo: preparing the database ...", flush=True)
        self.manage("migrate", "--noinput", "-v", "0")
        self.manage("createcachetable")
        users = self.manage("demo_users", capture=True)
        if users.returncode != 0:
            raise SystemExit(f"demo: demo_users failed:\n{users.stderr}")
        print("demo: starting web, worker and beat ...", flush=True)
        self.start_portal()
        print("demo: onboarding customers through the consent flow ...", flush=True)
        connected, manual, pending_link = self.onboard(config)
        self.manage("demo_users", "--assign", capture=True)
        print("demo: first sync ...", flush=True)
        self.manage("sync_incidents", capture=True)
        print()
        print("=" * 72)
        print(f"  Partner Portal demo is running: {self.portal_url}/")
        print(users.stdout.rstrip())
        print(f"  Onboarded through admin consent: {', '.join(connected)}")
        print(f"  Linked by tenant domain (manual v1 path): {', '.join(manual)}")
        if pending_link:
            print("  Pending customer: open its onboarding link to consent yourself:")
            print(f"  {pending_link}")
        print(f"  Logs: {self.logs}/   Emulator: {config['authority_host']}")
        print("  Press Ctrl-C to stop.")
        print("=" * 72, flush=True)
        if self.args.smoke:
            return self.smoke_check()
        while all(proc.poll() is None for _, proc in self.procs):
            time.sleep(1)
        dead = [name for name, proc in self.procs if proc.poll() is not None]
        print(f"demo: {', '.join(dead)} stopped; see {self.logs}", file=sys.stderr)
        return 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--emulator-port", type=int, default=8443)
    parser.add_argument("--var-dir", default=str(ROOT / "var"))
    parser.add_argument("--keep-data", action="store_true", help="keep the previous demo database")
    parser.add_argument("--smoke", action="store_true", help="exit once set up (for tests)")
    demo = Demo(parser.parse_args())
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        return demo.run()
    except KeyboardInterrupt:
        return 0
    finally:
        demo.stop_all()


if __name__ == "__main__":
    sys.exit(main())
