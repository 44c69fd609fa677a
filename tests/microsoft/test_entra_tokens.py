"""microsoft.entra tokens for the sync: shared cache, certificates, hosts, tid (§3, §10)."""

from __future__ import annotations

import datetime
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import msal
import pytest
import requests.adapters
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from django.core.exceptions import ImproperlyConfigured

from microsoft import entra, errors, token_cache


@pytest.fixture
def contoso(portal_emulator: Any) -> str:
    return str(portal_emulator.tenant(name="Contoso").tenant_id)


def token_requests(emulator: Any) -> list[dict[str, Any]]:
    return [r for r in emulator.requests if r["kind"] == "token"]


def new_process() -> None:
    """What another worker process looks like to this one: no MSAL app objects of its own."""
    entra._apps.clear()


def test_second_process_reuses_the_shared_token(portal_emulator: Any, contoso: str) -> None:
    first = entra.get_token(contoso)
    new_process()
    second = entra.get_token(contoso)

    assert (first.from_cache, second.from_cache) == (False, True)
    assert second.token == first.token
    assert len(token_requests(portal_emulator)) == 1


def test_tenants_never_share_a_cache_entry(portal_emulator: Any, contoso: str) -> None:
    woodgrove = str(portal_emulator.tenant(name="Woodgrove Bank").tenant_id)

    a, b = entra.get_token(contoso), entra.get_token(woodgrove)

    assert (a.claims["tid"], b.claims["tid"]) == (contoso, woodgrove)
    assert len(token_requests(portal_emulator)) == 2
    cache = msal.SerializableTokenCache()
    token_cache.load_into(contoso, cache)
    realms = {e["realm"] for e in cache.search(msal.TokenCache.CredentialType.ACCESS_TOKEN)}
    assert realms == {contoso}


def test_concurrent_processes_that_miss_send_one_token_request(
    portal_emulator: Any, contoso: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Each caller gets its own MSAL app (as separate processes would): only the shared cache
    # and the tenant lock stop them from all asking Entra ID.
    build = entra._build_app
    monkeypatch.setattr(entra, "_app_for", lambda tenant_id, fresh: build(tenant_id))
    portal_emulator.knobs.latency_seconds = 0.05
    tokens: list[str] = []

    def worker() -> None:
        tokens.append(entra.get_token(contoso).token)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(set(tokens)) == 1 and len(tokens) == 4
    assert len(token_requests(portal_emulator)) == 1


def test_certificate_credential_gets_a_token(
    portal_emulator: Any, contoso: str, settings: Any
) -> None:
    settings.AZURE_CLIENT_SECRET = ""
    settings.AZURE_CLIENT_CERTIFICATE_PATH = str(portal_emulator.client_certificate_path)
    entra.client_credential.cache_clear()

    token = entra.get_token(contoso)

    assert token.claims["tid"] == contoso
    (request,) = token_requests(portal_emulator)
    assert request["status"] == 200
    assert request["form"]["client_assertion_type"] == (
        "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
    )
    assert request["form"]["client_assertion"] == "[redacted]"
    assert "client_secret" not in request["form"]


def test_only_the_configured_authority_and_api_host_are_contacted(
    portal_emulator: Any, contoso: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    urls: list[str] = []
    lookups: list[str] = []
    send, getaddrinfo = requests.adapters.HTTPAdapter.send, socket.getaddrinfo

    def recording_send(self: Any, request: Any, *args: Any, **kwargs: Any) -> Any:
        urls.append(request.url)
        return send(self, request, *args, **kwargs)

    def recording_getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        lookups.append(str(host))
        return getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(requests.adapters.HTTPAdapter, "send", recording_send)
    monkeypatch.setattr(socket, "getaddrinfo", recording_getaddrinfo)
    from microsoft.defender import DefenderClient

    DefenderClient(contoso).list_incidents(top=1)

    assert {urlsplit(u).netloc for u in urls} == {urlsplit(portal_emulator.url).netloc}
    assert [urlsplit(u).path for u in urls] == [
        f"/{contoso}/v2.0/.well-known/openid-configuration",
        f"/{contoso}/oauth2/v2.0/token",
        "/api/incidents",
    ]
    assert set(lookups) <= {"127.0.0.1"}


def test_token_for_another_tenant_is_refused_and_forgotten(
    portal_emulator: Any, contoso: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = entra.decode_claims
    monkeypatch.setattr(
        entra, "decode_claims", lambda token: {**real(token), "tid": "00000000-0000-4000-8000-0"}
    )

    with pytest.raises(errors.TokenClaimsError) as info:
        entra.get_token(contoso)

    assert info.value.code == "tid_mismatch"
    assert token_cache.cache.get(token_cache._cache_key(contoso)) is None


def test_revoked_consent_is_consent_missing(portal_emulator: Any, contoso: str) -> None:
    portal_emulator.set_tenant_state(contoso, "not_consented")

    with pytest.raises(errors.ConsentMissingError) as info:
        entra.get_token(contoso)

    assert info.value.aadsts == 7000229


def test_invalidated_token_is_dropped_in_every_process(portal_emulator: Any, contoso: str) -> None:
    entra.get_token(contoso)
    other_process_app = entra._apps[contoso]
    new_process()
    entra.get_token(contoso)  # this "process" now has the token in memory too
    entra.invalidate_token(contoso)
    entra._apps[contoso] = other_process_app  # back in the first process

    again = entra.get_token(contoso)

    assert again.from_cache is False
    assert len(token_requests(portal_emulator)) == 2


# --- certificate credential problems are configuration errors, not tenant errors ------------

UNKNOWN_TENANT = "11111111-2222-4333-8444-555555555555"


def _pem_file(directory: Path, *, key_password: bytes | None) -> Path:
    """A PEM file like AZURE_CLIENT_CERTIFICATE_PATH wants: a new RSA private key (encrypted
    with ``key_password`` if given) followed by its self-signed certificate."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "partner-portal-test")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    encryption = (
        serialization.BestAvailableEncryption(key_password)
        if key_password
        else serialization.NoEncryption()
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    )
    path = directory / "app.pem"
    path.write_bytes(key_pem + cert.public_bytes(serialization.Encoding.PEM))
    return path


@pytest.fixture
def certificate_settings(settings: Any) -> Iterator[Any]:
    """Certificate credential configured (no secret); the credential cache cleared around."""
    settings.AZURE_CLIENT_ID = "00000000-0000-4000-8000-00000000c11d"
    settings.AZURE_CLIENT_SECRET = ""
    settings.AZURE_CLIENT_CERTIFICATE_PASSWORD = ""
    entra.client_credential.cache_clear()
    entra._apps.clear()
    yield settings
    entra.client_credential.cache_clear()
    entra._apps.clear()


def _configuration_error(tenant_id: str) -> ImproperlyConfigured:
    with pytest.raises(ImproperlyConfigured) as info:
        entra.get_token(tenant_id)
    assert info.value.__cause__ is None and info.value.__suppress_context__ is True
    return info.value


def test_malformed_certificate_pem_is_a_configuration_error(
    certificate_settings: Any, tmp_path: Path
) -> None:
    path = tmp_path / "app.pem"
    path.write_text("-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n")
    certificate_settings.AZURE_CLIENT_CERTIFICATE_PATH = str(path)

    error = _configuration_error(UNKNOWN_TENANT)

    assert str(error) == f"AZURE_CLIENT_CERTIFICATE_PATH ({path}) holds no readable PEM certificate"


def test_malformed_private_key_is_a_configuration_error(
    certificate_settings: Any, tmp_path: Path
) -> None:
    good = _pem_file(tmp_path, key_password=None).read_text()
    header = "-----BEGIN " + "PRIVATE KEY-----\n"  # split: no key-shaped literal in the tree
    start = good.index(header) + len(header)
    good_pem = good[:start] + "AAAA" + good[start + 4 :]  # the key's DER no longer parses
    path = tmp_path / "app.pem"
    path.write_text(good_pem)
    certificate_settings.AZURE_CLIENT_CERTIFICATE_PATH = str(path)

    error = _configuration_error(UNKNOWN_TENANT)

    assert str(error) == (
        f"The private key in AZURE_CLIENT_CERTIFICATE_PATH ({path}) could not be loaded: the PEM "
        "is malformed, holds no private key, or AZURE_CLIENT_CERTIFICATE_PASSWORD is wrong"
    )


@pytest.mark.parametrize(
    ("key_password", "configured_password", "expected_end"),
    [
        (b"right-passphrase", "wrong-passphrase", "could not be loaded: the PEM is malformed, "
         "holds no private key, or AZURE_CLIENT_CERTIFICATE_PASSWORD is wrong"),
        (None, "wrong-passphrase", "is not encrypted: unset AZURE_CLIENT_CERTIFICATE_PASSWORD"),
        (b"right-passphrase", "", "is encrypted: set AZURE_CLIENT_CERTIFICATE_PASSWORD"),
    ],
    ids=["wrong-password", "password-for-unencrypted-key", "no-password-for-encrypted-key"],
)  # fmt: skip
def test_key_and_password_mismatch_is_a_configuration_error(
    certificate_settings: Any,
    tmp_path: Path,
    key_password: bytes | None,
    configured_password: str,
    expected_end: str,
) -> None:
    path = _pem_file(tmp_path, key_password=key_password)
    certificate_settings.AZURE_CLIENT_CERTIFICATE_PATH = str(path)
    certificate_settings.AZURE_CLIENT_CERTIFICATE_PASSWORD = configured_password

    error = _configuration_error(UNKNOWN_TENANT)

    assert str(error) == (
        f"The private key in AZURE_CLIENT_CERTIFICATE_PATH ({path}) {expected_end}"
    )
    assert "passphrase" not in str(error) and "PRIVATE KEY" not in str(error)


def test_certificate_error_is_not_blamed_on_an_existing_tenant(
    portal_emulator: Any, contoso: str, certificate_settings: Any, tmp_path: Path
) -> None:
    certificate_settings.AZURE_CLIENT_ID = portal_emulator.client_id
    path = _pem_file(tmp_path, key_password=b"right-passphrase")
    certificate_settings.AZURE_CLIENT_CERTIFICATE_PATH = str(path)
    certificate_settings.AZURE_CLIENT_CERTIFICATE_PASSWORD = "wrong-passphrase"

    _configuration_error(contoso)

    assert portal_emulator.requests == []


def test_encrypted_certificate_key_with_its_password_gets_a_token(
    portal_emulator: Any, contoso: str, settings: Any, tmp_path: Path
) -> None:
    pem = portal_emulator.client_certificate_path.read_bytes()
    key = serialization.load_pem_private_key(pem, password=None)
    cert = x509.load_pem_x509_certificate(pem)
    path = tmp_path / "app.pem"
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"right-passphrase"),
        )
        + cert.public_bytes(serialization.Encoding.PEM)
    )
    settings.AZURE_CLIENT_SECRET = ""
    settings.AZURE_CLIENT_CERTIFICATE_PATH = str(path)
    settings.AZURE_CLIENT_CERTIFICATE_PASSWORD = "right-passphrase"
    entra.client_credential.cache_clear()

    token = entra.get_token(contoso)

    assert token.claims["tid"] == contoso
    (request,) = token_requests(portal_emulator)
    assert request["status"] == 200
    assert "client_secret" not in request["form"]
