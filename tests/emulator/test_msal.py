"""Unmodified MSAL ConfidentialClientApplication against the emulator (issue 3 "Done when")."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import jwt
import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from emulator import EmulatorServer
from tests.emulator.helpers import XDR_SCOPE, msal_app


def _claims(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


def test_msal_gets_a_token_for_a_consented_tenant_then_serves_it_from_its_cache(
    emulator: EmulatorServer, emulator_session: requests.Session
) -> None:
    tid = emulator.tenant(name="Contoso").tenant_id
    app = msal_app(emulator, emulator_session, tid)

    first = app.acquire_token_for_client(scopes=[XDR_SCOPE])
    second = app.acquire_token_for_client(scopes=[XDR_SCOPE])

    assert first["token_source"] == "identity_provider"
    assert first["token_type"] == "Bearer"
    assert first["expires_in"] == 3599
    assert "scope" not in first and "refresh_token" not in first
    assert second["token_source"] == "cache"
    assert second["access_token"] == first["access_token"]
    assert [r["kind"] for r in emulator.requests] == ["discovery", "token"]
    assert emulator.requests[0]["path"] == f"/{tid}/v2.0/.well-known/openid-configuration"
    claims = _claims(first["access_token"])
    assert claims["tid"] == tid
    assert claims["roles"] == ["Incident.Read.All"]


def test_msal_cannot_even_build_an_app_for_an_unknown_tenant(
    emulator: EmulatorServer, emulator_session: requests.Session
) -> None:
    with pytest.raises(ValueError, match="Unable to get authority configuration"):
        msal_app(emulator, emulator_session, "00000000-0000-4000-8000-000000000000")
    (log,) = emulator.requests
    assert (log["kind"], log["status"]) == ("discovery", 400)


def test_msal_gets_7000229_for_a_tenant_that_never_consented(
    emulator: EmulatorServer, emulator_session: requests.Session
) -> None:
    tid = emulator.tenant(name="Northwind Traders").tenant_id
    result = msal_app(emulator, emulator_session, tid).acquire_token_for_client(scopes=[XDR_SCOPE])

    assert result["error"] == "invalid_client"
    assert result["error_codes"] == [7000229]
    assert result["error_description"].startswith(
        f"AADSTS7000229: The client application {emulator.client_id} is missing service "
        f"principal in the tenant {tid}."
    )
    assert emulator.requests[-1]["status"] == 401


def test_msal_gets_a_token_without_roles_for_a_tenant_consented_without_roles(
    emulator: EmulatorServer, emulator_session: requests.Session
) -> None:
    tid = emulator.tenant(state="no_roles").tenant_id
    result = msal_app(emulator, emulator_session, tid).acquire_token_for_client(scopes=[XDR_SCOPE])

    assert "roles" not in _claims(result["access_token"])
    api = emulator_session.get(
        emulator.url + "/api/incidents",
        params={"$top": "1"},
        headers={"Authorization": f"Bearer {result['access_token']}"},
    )
    assert api.status_code == 403


def test_msal_gets_700016_for_a_wrong_client_id(
    emulator: EmulatorServer, emulator_session: requests.Session
) -> None:
    tid = emulator.tenant(name="Contoso").tenant_id
    wrong = "11111111-2222-4333-8444-555555555555"
    app = msal_app(emulator, emulator_session, tid, client_id=wrong)
    result = app.acquire_token_for_client(scopes=[XDR_SCOPE])

    assert (result["error"], result["error_codes"]) == ("unauthorized_client", [700016])
    assert result["error_description"].startswith(
        f"AADSTS700016: Application with identifier '{wrong}' was not found in the directory "
        f"'{tid}'."
    )


def test_msal_gets_7000215_for_a_wrong_secret_and_7000222_for_an_expired_one(
    emulator: EmulatorServer, emulator_session: requests.Session
) -> None:
    tid = emulator.tenant(name="Contoso").tenant_id
    wrong = msal_app(emulator, emulator_session, tid, credential="not-the-secret")
    assert wrong.acquire_token_for_client(scopes=[XDR_SCOPE])["error_codes"] == [7000215]

    emulator.set_secret_expired(True)
    expired = msal_app(emulator, emulator_session, tid)
    result = expired.acquire_token_for_client(scopes=[XDR_SCOPE])
    assert (result["error"], result["error_codes"]) == ("invalid_client", [7000222])


def _pem_parts(emulator: EmulatorServer) -> tuple[str, str]:
    pem = Path(emulator.client_certificate_path).read_text()
    split = pem.index("-----BEGIN CERTIFICATE-----")
    return pem[:split], pem[split:]


@pytest.mark.parametrize("style", ["thumbprint", "public_certificate"])
def test_msal_certificate_credential_is_accepted_in_both_dict_forms(
    emulator: EmulatorServer, emulator_session: requests.Session, style: str
) -> None:
    key, cert = _pem_parts(emulator)
    credential = (
        {"private_key": key, "thumbprint": emulator.client_certificate_thumbprint}
        if style == "thumbprint"
        else {"private_key": key, "public_certificate": cert}
    )
    tid = emulator.tenant(name="Contoso").tenant_id
    result = msal_app(emulator, emulator_session, tid, credential).acquire_token_for_client(
        scopes=[XDR_SCOPE]
    )

    assert result.get("error") is None, result
    assert _claims(result["access_token"])["appidacr"] == "2"
    form = emulator.requests[-1]["form"]
    assert form["client_assertion"] == "[redacted]"
    assert "client_secret" not in form


def _foreign_key_and_cert() -> tuple[str, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "intruder")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return key_pem, cert.public_bytes(serialization.Encoding.PEM).decode()


def test_msal_assertion_signed_by_another_key_gets_700027(
    emulator: EmulatorServer, emulator_session: requests.Session
) -> None:
    foreign_key, foreign_cert = _foreign_key_and_cert()
    tid = emulator.tenant(name="Contoso").tenant_id
    # The registered thumbprint, but signed with a key that does not belong to it.
    forged = {"private_key": foreign_key, "thumbprint": emulator.client_certificate_thumbprint}
    unknown = {"private_key": foreign_key, "public_certificate": foreign_cert}

    for credential, reason in [
        (forged, "Client assertion failed signature validation."),
        (unknown, "The certificate with identifier used to sign the client assertion is not"),
    ]:
        result = msal_app(emulator, emulator_session, tid, credential).acquire_token_for_client(
            scopes=[XDR_SCOPE]
        )
        assert (result["error"], result["error_codes"]) == ("invalid_client", [700027])
        assert result["error_description"].startswith(f"AADSTS700027: {reason}")
        assert emulator.requests[-1]["status"] == 401
