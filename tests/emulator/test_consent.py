"""Admin consent flows (§2): pages, redirects with Microsoft's exact parameters, refusals."""

from __future__ import annotations

from html.parser import HTMLParser
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest

from tests.emulator.helpers import Client

CALLBACK = "http://127.0.0.1:8000/onboarding/callback/"
SCOPE = "https://api.security.microsoft.com/.default"


class _Form(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.ids: dict[str, dict[str, str | None]] = {}
        self.options: list[str] = []
        self.buttons: dict[str, str] = {}
        self.action = ""
        self._button: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if a.get("id"):
            self.ids[str(a["id"])] = a
        if tag == "form":
            self.action = a.get("action") or ""
        if tag == "option":
            self.options.append(str(a.get("value")))
        if tag == "button":
            self._button = a.get("id")

    def handle_data(self, data: str) -> None:
        if self._button and data.strip():
            self.buttons[self._button] = data.strip()
            self._button = None


def _v2_url(wire: Client, tenant: str = "organizations", **params: str) -> str:
    query = {
        "client_id": wire.emulator.client_id,
        "redirect_uri": CALLBACK,
        "scope": SCOPE,
        "state": "st4te-123",
    }
    query.update(params)
    return f"{wire.emulator.url}/{tenant}/v2.0/adminconsent?{urlencode(query)}"


def _submit(wire: Client, url: str, tenant_id: str, action: str) -> list[tuple[str, str]]:
    page = wire.http.get(url)
    assert page.status_code == 200, page.text
    form = _Form()
    form.feed(page.text)
    resp = wire.http.post(
        wire.emulator.url + form.action,
        data={"tenant": tenant_id, "action": action},
        allow_redirects=False,
    )
    assert resp.status_code == 302, resp.text
    location = resp.headers["Location"]
    assert location.split("?")[0] in (
        CALLBACK,
        CALLBACK + "extra/segment",
        "https://portal.azure.com",
    )
    return parse_qsl(urlsplit(location).query, keep_blank_values=True)


def test_consent_page_shows_app_permissions_tenant_picker_and_buttons(wire: Client) -> None:
    page = wire.http.get(_v2_url(wire))

    assert page.status_code == 200
    assert page.headers["Content-Type"] == "text/html; charset=utf-8"
    form = _Form()
    form.feed(page.text)
    assert "Contoso MSSP Partner Portal" in page.text
    assert "Incident.Read.All" in page.text and "Microsoft Threat Protection" in page.text
    assert "Sign in as administrator of" in page.text
    assert form.buttons == {"cancel": "Cancel", "accept": "Accept"}
    assert form.options == [t.tenant_id for t in wire.emulator.tenants]
    assert "Northwind Traders (northwindtraders-demo.example)" in page.text
    assert "<script" not in page.text and "http://" not in page.text.replace(CALLBACK, "")


def test_consent_page_for_a_named_tenant_offers_only_that_tenant(wire: Client) -> None:
    tenant = wire.emulator.tenant(name="Northwind Traders")
    form = _Form()
    form.feed(wire.http.get(_v2_url(wire, tenant.domain)).text)
    assert form.options == [tenant.tenant_id]


def test_v2_accept_redirects_with_admin_consent_tenant_scope_state_and_consents(
    wire: Client,
) -> None:
    tenant = wire.emulator.tenant(name="Northwind Traders")
    params = _submit(wire, _v2_url(wire), tenant.tenant_id, "accept")

    assert params == [
        ("admin_consent", "True"),
        ("tenant", tenant.tenant_id),
        ("scope", SCOPE),
        ("state", "st4te-123"),
    ]
    assert wire.emulator.tenant(name="Northwind Traders").state == "consented"
    assert wire.token_response(tenant.tenant_id).status_code == 200
    assert {r["kind"] for r in wire.emulator.requests} == {"consent", "token"}


def test_v2_cancel_redirects_with_consent_required_65004_and_changes_nothing(wire: Client) -> None:
    tenant = wire.emulator.tenant(name="Northwind Traders")
    params = _submit(wire, _v2_url(wire), tenant.tenant_id, "cancel")

    assert [k for k, _ in params] == ["admin_consent", "error", "error_description", "state"]
    values = dict(params)
    assert (values["admin_consent"], values["error"]) == ("True", "consent_required")
    assert values["error_description"].startswith(
        "AADSTS65004: User declined to consent to access the app. Trace ID: "
    )
    assert "Correlation ID: " in values["error_description"]
    assert values["state"] == "st4te-123"
    assert wire.emulator.tenant(name="Northwind Traders").state == "not_consented"


def test_adminconsent_endpoint_success_and_failure_parameters(wire: Client) -> None:
    tenant = wire.emulator.tenant(name="Tailspin Toys")
    query = urlencode(
        {"client_id": wire.emulator.client_id, "redirect_uri": CALLBACK, "state": "abc"}
    )
    url = f"{wire.emulator.url}/common/adminconsent?{query}"

    declined = _submit(wire, url, tenant.tenant_id, "cancel")
    assert [k for k, _ in declined] == ["error", "error_description", "state"]
    assert dict(declined)["error"] == "permission_denied"
    assert dict(declined)["error_description"].startswith("AADSTS65004: ")

    accepted = _submit(wire, url, tenant.tenant_id, "accept")
    assert accepted == [("tenant", tenant.tenant_id), ("state", "abc"), ("admin_consent", "True")]


def test_adminconsent_allows_extra_trailing_path_segments_but_v2_requires_exact(
    wire: Client,
) -> None:
    tenant = wire.emulator.tenant(name="Tailspin Toys")
    longer = CALLBACK + "extra/segment"
    query = urlencode({"client_id": wire.emulator.client_id, "redirect_uri": longer})
    accepted = _submit(
        wire, f"{wire.emulator.url}/common/adminconsent?{query}", tenant.tenant_id, "accept"
    )
    assert accepted == [("tenant", tenant.tenant_id), ("admin_consent", "True")]

    refused = wire.http.get(_v2_url(wire, redirect_uri=longer), allow_redirects=False)
    assert refused.status_code == 400
    assert "AADSTS50011" in refused.text and "Location" not in refused.headers


@pytest.mark.parametrize(
    ("path", "params", "code"),
    [
        ("organizations/v2.0/adminconsent", {"redirect_uri": "https://evil.example/cb"}, 50011),
        ("common/adminconsent", {"redirect_uri": "https://evil.example/cb"}, 50011),
        ("common/oauth2/authorize", {"redirect_uri": "https://evil.example/cb"}, 50011),
        (
            "organizations/v2.0/adminconsent",
            {"client_id": "11111111-2222-4333-8444-555555555555"},
            700016,
        ),
        ("nosuch.example/v2.0/adminconsent", {}, 90002),
        ("common/v2.0/adminconsent", {}, 90130),
    ],
)
def test_bad_client_redirect_or_tenant_shows_an_error_page_without_redirecting(
    wire: Client, path: str, params: dict[str, str], code: int
) -> None:
    query = {
        "client_id": wire.emulator.client_id,
        "redirect_uri": CALLBACK,
        "scope": SCOPE,
        "state": "s",
        "response_type": "code",
        "prompt": "consent",
    }
    query.update(params)
    states = [t.state for t in wire.emulator.tenants]
    resp = wire.http.get(f"{wire.emulator.url}/{path}?{urlencode(query)}", allow_redirects=False)

    assert resp.status_code == 400
    assert "Location" not in resp.headers
    assert f"AADSTS{code}:" in resp.text
    posted = wire.http.post(
        f"{wire.emulator.url}/{path}?{urlencode(query)}",
        data={"tenant": wire.emulator.tenants[0].tenant_id, "action": "accept"},
        allow_redirects=False,
    )
    assert posted.status_code == 400
    assert [t.state for t in wire.emulator.tenants] == states


def test_v1_partner_link_returns_code_session_state_admin_consent_to_first_reply_url(
    wire: Client,
) -> None:
    tenant = wire.emulator.tenant(name="Northwind Traders")
    query = urlencode(
        {
            "prompt": "consent",
            "client_id": wire.emulator.client_id,
            "response_type": "code",
            "sso_reload": "true",
        }
    )
    url = f"{wire.emulator.url}/common/oauth2/authorize?{query}"
    params = _submit(wire, url, tenant.tenant_id, "accept")

    assert [k for k, _ in params] == ["code", "session_state", "admin_consent"]
    assert dict(params)["admin_consent"] == "True"
    assert "tenant" not in dict(params)
    assert wire.emulator.tenant(name="Northwind Traders").state == "consented"


def test_v1_link_with_registered_redirect_and_state_uses_them(wire: Client) -> None:
    tenant = wire.emulator.tenant(name="Northwind Traders")
    query = urlencode(
        {
            "prompt": "consent",
            "client_id": wire.emulator.client_id,
            "response_type": "code",
            "redirect_uri": "https://portal.azure.com",
            "state": "xyz",
        }
    )
    url = f"{wire.emulator.url}/common/oauth2/authorize?{query}"
    page = wire.http.post(
        url, data={"tenant": tenant.tenant_id, "action": "accept"}, allow_redirects=False
    )
    assert page.headers["Location"].startswith("https://portal.azure.com?code=")
    keys = [k for k, _ in parse_qsl(urlsplit(page.headers["Location"]).query)]
    assert keys == ["code", "session_state", "state", "admin_consent"]

    declined = wire.http.post(
        url, data={"tenant": tenant.tenant_id, "action": "cancel"}, allow_redirects=False
    )
    params = parse_qsl(urlsplit(declined.headers["Location"]).query)
    assert [k for k, _ in params] == ["error", "error_description", "state"]
    assert dict(params)["error"] == "access_denied"


def test_registering_a_redirect_uri_makes_it_acceptable(wire: Client) -> None:
    uri = "https://portal.example.com/onboarding/callback/"
    assert wire.http.get(_v2_url(wire, redirect_uri=uri)).status_code == 400
    wire.emulator.register_redirect_uri(uri)
    assert wire.http.get(_v2_url(wire, redirect_uri=uri)).status_code == 200


def test_consent_grants_roles_none_leaves_the_tenant_without_roles(wire: Client) -> None:
    wire.emulator.knobs.consent_grants_roles = "none"
    tenant = wire.emulator.tenant(name="Northwind Traders")
    _submit(wire, _v2_url(wire), tenant.tenant_id, "accept")
    assert wire.emulator.tenant(name="Northwind Traders").state == "no_roles"


def test_v2_without_scope_redirects_with_invalid_request(wire: Client) -> None:
    resp = wire.http.get(_v2_url(wire, scope=""), allow_redirects=False)
    assert resp.status_code == 302
    params = dict(parse_qsl(urlsplit(resp.headers["Location"]).query))
    assert params["error"] == "invalid_request"
    assert params["error_description"].startswith("AADSTS900144: ")
    assert params["state"] == "st4te-123"
