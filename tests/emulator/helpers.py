"""Shared helpers for the emulator contract tests: HTTP client and MSAL app factories."""

from __future__ import annotations

from typing import Any

import msal
import requests

from emulator import EmulatorServer

XDR_SCOPE = "https://api.security.microsoft.com/.default"
XDR_RESOURCE = "https://api.security.microsoft.com"
GUID_RE = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


class Client:
    """Thin HTTP helper bound to one emulator: token requests and Defender API calls."""

    def __init__(self, emulator: EmulatorServer, session: requests.Session) -> None:
        self.emulator = emulator
        self.http = session

    def tenant_id(self, name: str) -> str:
        return self.emulator.tenant(name=name).tenant_id

    def token_response(
        self, tenant: str, *, v1: bool = False, **overrides: Any
    ) -> requests.Response:
        """POST a client-credentials request; `overrides` replace/add form fields (None drops)."""
        form: dict[str, Any] = {
            "client_id": self.emulator.client_id,
            "client_secret": self.emulator.client_secret,
            "grant_type": "client_credentials",
        }
        form["resource" if v1 else "scope"] = XDR_RESOURCE if v1 else XDR_SCOPE
        form.update(overrides)
        form = {k: v for k, v in form.items() if v is not None}
        path = "oauth2/token" if v1 else "oauth2/v2.0/token"
        return self.http.post(f"{self.emulator.url}/{tenant}/{path}", data=form)

    def token(self, name: str) -> str:
        resp = self.token_response(self.tenant_id(name))
        assert resp.status_code == 200, resp.text
        return str(resp.json()["access_token"])

    def api(
        self,
        method: str,
        path: str,
        token: str | None,
        *,
        params: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> requests.Response:
        all_headers = dict(headers or {})
        if token is not None:
            all_headers["Authorization"] = f"Bearer {token}"
        return self.http.request(
            method, self.emulator.url + path, params=params, headers=all_headers, **kwargs
        )

    def list_all(self, token: str, **params: str) -> list[dict[str, Any]]:
        """Every incident matching `params` ($filter...), walking $skip by 100."""
        rows: list[dict[str, Any]] = []
        while True:
            query = {**params, "$top": "100", "$skip": str(len(rows))}
            resp = self.api("GET", "/api/incidents", token, params=query)
            assert resp.status_code == 200, resp.text
            page = resp.json()["value"]
            rows.extend(page)
            if len(page) < 100:
                return rows


def msal_app(
    emulator: EmulatorServer,
    session: requests.Session,
    tenant_id: str,
    credential: Any = None,
    client_id: str | None = None,
) -> msal.ConfidentialClientApplication:
    """An unmodified MSAL app for one tenant, trusting the emulator CA (§10.5)."""
    return msal.ConfidentialClientApplication(
        client_id or emulator.client_id,
        client_credential=credential if credential is not None else emulator.client_secret,
        authority=f"{emulator.url}/{tenant_id}",
        instance_discovery=False,
        http_client=session,
    )
