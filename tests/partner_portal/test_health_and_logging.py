"""Health check and log redaction."""

from __future__ import annotations

import base64
import io
import json
import logging
from collections.abc import Iterator

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
        ("upstream said Bearer opaque.value-1 twice", "upstream said Bearer [redacted] twice"),
        (f"sent Bearer {TOKEN}", "sent Bearer [redacted-jwt]"),
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


@pytest.fixture
def redacted_log() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    """A logger whose handler has the redaction filter and a plain formatter, as in settings."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
    handler.addFilter(RedactSecretsFilter())
    logger = logging.getLogger("tests.redaction")
    logger.addHandler(handler)
    logger.propagate = False
    logger.setLevel(logging.INFO)
    try:
        yield logger, stream
    finally:
        logger.removeHandler(handler)
        logger.propagate = True


def test_exception_traceback_is_redacted_once_by_the_handler(
    redacted_log: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = redacted_log
    try:
        raise RuntimeError("token request failed: client_secret=SuperSecret123&scope=x")
    except RuntimeError:
        logger.exception("token for tenant=%s failed", "abc")

    output = stream.getvalue()
    assert "SuperSecret123" not in output
    assert output.startswith("ERROR tests.redaction token for tenant=abc failed\n")
    assert "\nRuntimeError: token request failed: client_secret=[redacted]&scope=x\n" in (
        output + "\n"
    )
    assert output.count("Traceback (most recent call last):") == 1


@pytest.mark.parametrize(
    ("secret", "shown"),
    [(TOKEN, "[redacted-jwt]"), ("Bearer xyz", "Bearer [redacted]")],
    ids=["jwt", "bearer"],
)
def test_token_in_an_exception_message_is_redacted(
    redacted_log: tuple[logging.Logger, io.StringIO], secret: str, shown: str
) -> None:
    logger, stream = redacted_log
    message = f"the API rejected {secret} for tenant abc"
    try:
        raise ValueError(message)
    except ValueError:
        logger.warning("call failed", exc_info=True)

    output = stream.getvalue()
    assert secret not in output
    assert output.splitlines()[-1] == f"ValueError: the API rejected {shown} for tenant abc"


def test_stack_info_is_redacted(redacted_log: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = redacted_log
    stack = "\n".join(
        [
            "Stack (most recent call last):",
            '  File "x.py", line 3, in f',
            '    post(password="hunter2")',
        ]
    )
    record = logger.makeRecord(
        logger.name, logging.INFO, __file__, 1, "checking", None, None, sinfo=stack
    )

    logger.handle(record)

    assert stream.getvalue().splitlines() == [
        "INFO tests.redaction checking",
        "Stack (most recent call last):",
        '  File "x.py", line 3, in f',
        '    post(password="[redacted]")',
    ]
