"""Health check and log redaction."""

from __future__ import annotations

import base64
import json
import logging

import pytest

from partner_portal.logging import RedactSecretsFilter, redact


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


# A JWT-shaped value built at run time (no token-like literal in the repository).
TOKEN = ".".join(
    [
        _b64(json.dumps({"typ": "JWT", "alg": "RS256"}).encode()),
        _b64(json.dumps({"tid": "abc", "roles": []}).encode()),
        _b64(b"signature-part"),
    ]
)


@pytest.mark.django_db
def test_healthz_answers_ok_for_any_host(client) -> None:
    response = client.get("/healthz", HTTP_HOST="10.0.0.5:8000")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"Authorization: Bearer {TOKEN}", "Authorization: [redacted]"),
        (f"token={TOKEN} tenant=x", "token=[redacted-jwt] tenant=x"),
        ("client_secret=s3cr3t&scope=x", "client_secret=[redacted]&scope=x"),
        (
            '{"access_token": "abc.def", "expires_in": 3599}',
            '{"access_token": "[redacted]", "expires_in": 3599}',
        ),
        (
            "client_assertion=xyz&grant_type=client_credentials",
            "client_assertion=[redacted]&grant_type=client_credentials",
        ),
        ("sync tenant=abc pages=3", "sync tenant=abc pages=3"),
    ],
)
def test_redact_removes_tokens_and_secrets(text: str, expected: str) -> None:
    assert redact(text) == expected


def test_filter_redacts_formatted_arguments() -> None:
    record = logging.LogRecord(
        "microsoft", logging.INFO, __file__, 1, "sent %s", (f"Bearer {TOKEN}",), None
    )
    assert RedactSecretsFilter().filter(record) is True
    assert record.getMessage() == "sent Bearer [redacted-jwt]"
