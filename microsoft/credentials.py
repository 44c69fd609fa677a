"""The portal application's own credential for MSAL: its client secret or its certificate.

``client_credential()`` (cached per process; tests clear it with ``cache_clear()``) reads
``AZURE_CLIENT_CERTIFICATE_PATH`` (PEM with the private key and the certificate, optionally
encrypted with ``AZURE_CLIENT_CERTIFICATE_PASSWORD``; the README recommends certificates in
production) or else ``AZURE_CLIENT_SECRET`` (contract §10.6). ``microsoft.entra`` passes it to
every ``ConfidentialClientApplication``.
"""

from __future__ import annotations

import functools

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


@functools.cache
def client_credential() -> str | dict[str, str]:
    """The app's credential for MSAL: the secret, or a certificate dict (§10.6).

    A certificate file is PEM holding the private key and the certificate; MSAL signs the
    assertion with PS256 and sends ``x5t#S256`` and ``x5c``. Raises ImproperlyConfigured when
    neither is configured, the file cannot be read, it holds no readable certificate or private
    key, or ``AZURE_CLIENT_CERTIFICATE_PASSWORD`` does not fit the key (wrong, missing, or given
    for an unencrypted key). The message names the setting, never key material.
    """
    path = settings.AZURE_CLIENT_CERTIFICATE_PATH
    if path:
        return _certificate_credential(path, settings.AZURE_CLIENT_CERTIFICATE_PASSWORD or None)
    if settings.AZURE_CLIENT_SECRET:
        return str(settings.AZURE_CLIENT_SECRET)
    raise ImproperlyConfigured("Set AZURE_CLIENT_SECRET or AZURE_CLIENT_CERTIFICATE_PATH")


def _certificate_credential(path: str, password: str | None) -> dict[str, str]:
    """MSAL's certificate dict from the PEM at ``path``; ImproperlyConfigured when unusable.

    cryptography raises ValueError for a malformed PEM or a wrong password and TypeError for a
    password given to an unencrypted key or missing for an encrypted one; both become
    ImproperlyConfigured so no caller mistakes them for a tenant's error (``from None``: the
    original messages are not needed and are kept out of logs).
    """
    from cryptography import x509
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives import serialization

    try:
        with open(path, "rb") as handle:
            pem = handle.read()
    except OSError as exc:
        raise ImproperlyConfigured(f"AZURE_CLIENT_CERTIFICATE_PATH unreadable: {exc}") from exc
    try:
        cert = x509.load_pem_x509_certificate(pem)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise ImproperlyConfigured(
            f"AZURE_CLIENT_CERTIFICATE_PATH ({path}) holds no readable PEM certificate"
        ) from None
    try:
        key = serialization.load_pem_private_key(
            pem, password=password.encode() if password else None
        )
    except TypeError:
        needs = "is not encrypted: unset" if password else "is encrypted: set"
        raise ImproperlyConfigured(
            f"The private key in AZURE_CLIENT_CERTIFICATE_PATH ({path}) {needs} "
            "AZURE_CLIENT_CERTIFICATE_PASSWORD"
        ) from None
    except (ValueError, UnsupportedAlgorithm):
        raise ImproperlyConfigured(
            f"The private key in AZURE_CLIENT_CERTIFICATE_PATH ({path}) could not be loaded: "
            "the PEM is malformed, holds no private key, or AZURE_CLIENT_CERTIFICATE_PASSWORD "
            "is wrong"
        ) from None
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    return {
        "private_key": key_pem,
        "public_certificate": cert.public_bytes(serialization.Encoding.PEM).decode(),
    }
