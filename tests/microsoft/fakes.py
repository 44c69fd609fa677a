"""A fake ``requests`` session for the Defender client, for answers the emulator cannot give
(403 codes other than Forbidden, a broken deflate body, odd Date and Retry-After headers, a
next link to another host)."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
import requests
import urllib3
from requests.adapters import HTTPAdapter

from microsoft import entra

TENANT_ID = "6c2d8e4f-1a3b-4c5d-9e7f-0a1b2c3d4e5f"
API_URL = "https://api.security.microsoft.com"


def reply(
    status: int = 200, body: Any = None, headers: dict[str, str] | None = None
) -> requests.Response:
    """A complete response; ``body`` is JSON-encoded unless it is bytes."""
    response = requests.Response()
    response.status_code = status
    raw = body if isinstance(body, bytes) else json.dumps(body or {}).encode()
    response._content = raw
    response._content_consumed = True
    response.headers.update(headers or {})
    return response


def page(
    incidents: list[Any] | None = None,
    *,
    next_link: str | None = None,
    headers: dict[str, str] | None = None,
) -> requests.Response:
    """A 200 list page."""
    body: dict[str, Any] = {"value": incidents or []}
    if next_link is not None:
        body["@odata.nextLink"] = next_link
    return reply(200, body, headers)


def broken_deflate(url: str = f"{API_URL}/api/incidents") -> requests.Response:
    """A 200 whose body says ``Content-Encoding: deflate`` but is not: reading it raises
    ``requests.exceptions.ContentDecodingError``, as requests does on the wire."""
    raw = urllib3.HTTPResponse(
        body=io.BytesIO(b"this is not a deflate stream"),
        headers={"Content-Encoding": "deflate", "Content-Type": "application/json"},
        status=200,
        preload_content=False,
        decode_content=True,
    )
    return HTTPAdapter().build_response(requests.Request("GET", url).prepare(), raw)


class FakeSession:
    """Answers ``get`` with the queued replies (a reply, or an exception to raise) in order."""

    def __init__(self, *replies: requests.Response | Exception) -> None:
        self.replies = list(replies)
        self.urls: list[str] = []

    def get(self, url: str, **kwargs: Any) -> requests.Response:
        self.urls.append(url)
        answer = self.replies.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


def install_fake_token(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make ``entra.get_token`` return a fixed token without any call."""

    def get_token(tenant_id: str, *, fresh: bool = False) -> entra.AccessToken:
        return entra.AccessToken(
            token="fake-token",
            tenant_id=tenant_id,
            claims={"tid": tenant_id, "roles": ["Incident.Read.All"]},
            from_cache=True,
            expires_in=3599,
        )

    monkeypatch.setattr(entra, "get_token", get_token)
