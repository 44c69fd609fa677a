"""microsoft.entra when Entra ID says "try again later": throttled (429, AADSTS90055) or
temporarily failing token and discovery requests are transient, never a tenant failure (§10.2)."""

from __future__ import annotations

from typing import Any

import pytest

from microsoft import entra, errors


@pytest.fixture
def contoso(portal_emulator: Any) -> str:
    return str(portal_emulator.tenant(name="Contoso").tenant_id)


def test_throttled_token_request_is_throttled_with_retry_after(
    portal_emulator: Any, contoso: str
) -> None:
    portal_emulator.add_fault(
        "429", tenant_id=contoso, path_prefix=f"/{contoso}/oauth2/", retry_after=42
    )

    with pytest.raises(errors.ThrottledError) as info:
        entra.get_token(contoso)

    assert info.value.retry_after == 42
    assert info.value.code == "AADSTS90055"
    assert "throttling token requests" in info.value.message
    assert not isinstance(info.value, errors.TokenError)
    # Entra ID answered 429 with a JSON error (MSAL did not raise), and the next ask works.
    assert [r["status"] for r in portal_emulator.requests if r["kind"] == "token"] == [429]
    assert entra.get_token(contoso).tenant_id == contoso


def test_throttled_discovery_is_throttled_not_tenant_not_found(
    portal_emulator: Any, contoso: str
) -> None:
    portal_emulator.add_fault(
        "429", tenant_id=contoso, path_prefix=f"/{contoso}/v2.0/.well-known/", retry_after=9
    )

    with pytest.raises(errors.ThrottledError) as info:
        entra.get_token(contoso, fresh=True)

    assert (info.value.retry_after, info.value.code) == (9, "discovery_429")


def test_throttled_domain_discovery_is_transient(portal_emulator: Any) -> None:
    domain = portal_emulator.tenant(name="Contoso").domain
    portal_emulator.add_fault("429", path_prefix=f"/{domain}/v2.0/")

    with pytest.raises(errors.TransientError) as info:
        entra.resolve_tenant_id(domain)

    assert "HTTP 429" in info.value.message


@pytest.mark.parametrize(
    ("result", "status", "code"),
    [
        ({"error": "server_error", "error_codes": [50000]}, 400, "AADSTS50000"),
        ({"error": "temporarily_unavailable", "error_codes": [90033]}, 400, "AADSTS90033"),
        ({"error": "temporarily_unavailable"}, 400, "token_unavailable"),
        ({"error": "server_error"}, None, "token_unavailable"),
    ],
)
def test_server_error_and_temporarily_unavailable_are_transient(
    result: dict[str, Any], status: int | None, code: str
) -> None:
    result["error_description"] = "AADSTS50000: Try again.\r\nTrace ID: x"

    with pytest.raises(errors.TransientError) as info:
        entra._raise_for_error(result, "6c2d8e4f-1a3b-4c5d-9e7f-0a1b2c3d4e5f", status=status)

    assert info.value.code == code
    assert "AADSTS50000: Try again." in info.value.message
    assert "Trace ID" not in info.value.message


@pytest.mark.parametrize(
    ("result", "status", "code"),
    [
        ({"error": "temporarily_unavailable", "error_codes": [90055]}, None, "AADSTS90055"),
        ({"error": "invalid_request"}, 429, "token_429"),
    ],
)
def test_throttling_without_a_retry_after_waits_the_documented_default(
    result: dict[str, Any], status: int | None, code: str
) -> None:
    entra._last_reply.clear()  # e.g. MSAL replayed the 429 from its throttle cache

    with pytest.raises(errors.ThrottledError) as info:
        entra._raise_for_error(result, "6c2d8e4f-1a3b-4c5d-9e7f-0a1b2c3d4e5f", status=status)

    assert info.value.retry_after == entra.TOKEN_RETRY_AFTER_DEFAULT == 60.0
    assert info.value.code == code


def test_refusals_stay_token_errors() -> None:
    with pytest.raises(errors.AppCredentialsError):
        entra._raise_for_error(
            {"error": "invalid_client", "error_codes": [7000215]}, "t", status=401
        )
    with pytest.raises(errors.ConsentMissingError):
        entra._raise_for_error(
            {"error": "invalid_client", "error_codes": [7000229]}, "t", status=401
        )
