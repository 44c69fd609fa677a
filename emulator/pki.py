"""Local certificate authority, TLS server certificate, token-signing key and client certificate.

Files written to the data dir (private keys are mode 0600):
  ca.pem, ca-key.pem           local CA, name-constrained to localhost / 127.0.0.0/8 / ::1
  server.pem, server-key.pem   TLS certificate for DNS:localhost, IP:127.0.0.1, IP:::1
  signing.pem                  RSA key + self-signed certificate that signs access tokens (§4)
  client_cert.pem              the partner app's certificate credential (key + certificate, §3.1)
The CA, signing key and client certificate are reused when present so trust survives restarts;
the server certificate is issued again on every start.
"""

from __future__ import annotations

import base64
import datetime as dt
import ipaddress
import os
import ssl
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificateIssuerPrivateKeyTypes
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

_LOOPBACK_NETS = (ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128"))


def b64url(data: bytes) -> str:
    """Unpadded base64url text."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _uint_b64url(value: int) -> str:
    return b64url(value.to_bytes((value.bit_length() + 7) // 8, "big"))


def _write_private(path: Path, data: bytes) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.replace(tmp, path)


def _write_public(path: Path, data: bytes) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _key_pem(key: CertificateIssuerPrivateKeyTypes) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _validity(builder: x509.CertificateBuilder, days: int) -> x509.CertificateBuilder:
    now = dt.datetime.now(dt.UTC)
    return builder.not_valid_before(now - dt.timedelta(hours=1)).not_valid_after(
        now + dt.timedelta(days=days)
    )


@dataclass
class ClientCertificate:
    """The app's registered certificate credential: PEMs, public key and thumbprints (hex)."""

    key_pem: bytes
    cert_pem: bytes
    certificate: x509.Certificate
    sha1_hex: str
    sha256_hex: str

    @property
    def x5t(self) -> str:
        """base64url SHA-1 thumbprint, as in a JWT `x5t` header."""
        return b64url(bytes.fromhex(self.sha1_hex))

    @property
    def x5t_s256(self) -> str:
        """base64url SHA-256 thumbprint, as in a JWT `x5t#S256` header."""
        return b64url(bytes.fromhex(self.sha256_hex))


@dataclass
class KeyMaterial:
    """Every key and certificate the emulator uses, plus the paths clients need."""

    ca_path: Path
    server_cert_path: Path
    server_key_path: Path
    client_cert_path: Path
    signing_key: rsa.RSAPrivateKey
    signing_cert: x509.Certificate
    client: ClientCertificate

    @property
    def kid(self) -> str:
        """Key id of the token-signing key; equals its `x5t` like Entra's keys (§4)."""
        return b64url(self.signing_cert.fingerprint(hashes.SHA1()))  # noqa: S303 - x5t is SHA-1

    def jwk(self) -> dict[str, str | list[str]]:
        """The signing key as a JWK: kty, use, kid, x5t, n, e, x5c (§4)."""
        numbers = self.signing_key.public_key().public_numbers()
        der = self.signing_cert.public_bytes(serialization.Encoding.DER)
        return {
            "kty": "RSA",
            "use": "sig",
            "kid": self.kid,
            "x5t": self.kid,
            "n": _uint_b64url(numbers.n),
            "e": _uint_b64url(numbers.e),
            "x5c": [base64.b64encode(der).decode("ascii")],
        }

    def server_context(self) -> ssl.SSLContext:
        """Server-side TLS context with the emulator's server certificate."""
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.load_cert_chain(str(self.server_cert_path), str(self.server_key_path))
        return ctx


def _load_ca(data_dir: Path) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey] | None:
    try:
        cert = x509.load_pem_x509_certificate((data_dir / "ca.pem").read_bytes())
        key = serialization.load_pem_private_key((data_dir / "ca-key.pem").read_bytes(), None)
    except (OSError, ValueError):
        return None
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        return None
    if cert.not_valid_after_utc < dt.datetime.now(dt.UTC) + dt.timedelta(days=30):
        return None
    return cert, key


def _new_ca(data_dir: Path) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = _name("Partner Portal Emulator Local CA")
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    constraints = x509.NameConstraints(
        permitted_subtrees=[x509.DNSName("localhost")]
        + [x509.IPAddress(n) for n in _LOOPBACK_NETS],
        excluded_subtrees=None,
    )
    builder = (
        _validity(x509.CertificateBuilder(), 3650)
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .add_extension(constraints, critical=True)
        .add_extension(ski, critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), False)
    )
    cert = builder.sign(key, hashes.SHA256())
    _write_private(data_dir / "ca-key.pem", _key_pem(key))
    _write_public(data_dir / "ca.pem", cert.public_bytes(serialization.Encoding.PEM))
    return cert, key


def _issue_server_cert(
    data_dir: Path, ca_cert: x509.Certificate, ca_key: ec.EllipticCurvePrivateKey
) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    sans: list[x509.GeneralName] = [
        x509.DNSName("localhost"),
        x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
        x509.IPAddress(ipaddress.ip_address("::1")),
    ]
    ca_ski = ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    builder = (
        _validity(x509.CertificateBuilder(), 365)
        .subject_name(_name("localhost"))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(True, False, False, False, True, False, False, False, False),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), False
        )
    )
    cert = builder.sign(ca_key, hashes.SHA256())
    _write_private(data_dir / "server-key.pem", _key_pem(key))
    _write_public(data_dir / "server.pem", cert.public_bytes(serialization.Encoding.PEM))


def _self_signed_rsa(cn: str, days: int) -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    builder = (
        _validity(x509.CertificateBuilder(), days)
        .subject_name(_name(cn))
        .issuer_name(_name(cn))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
    )
    return key, builder.sign(key, hashes.SHA256())


def _load_key_and_cert(path: Path) -> tuple[rsa.RSAPrivateKey, x509.Certificate] | None:
    try:
        data = path.read_bytes()
        key = serialization.load_pem_private_key(data, None)
        cert = x509.load_pem_x509_certificate(data[data.index(b"-----BEGIN CERTIFICATE-----") :])
    except (OSError, ValueError):
        return None
    if not isinstance(key, rsa.RSAPrivateKey):
        return None
    if cert.not_valid_after_utc < dt.datetime.now(dt.UTC) + dt.timedelta(days=7):
        return None
    return key, cert


def _key_and_cert(path: Path, cn: str) -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
    loaded = _load_key_and_cert(path)
    if loaded is None:
        loaded = _self_signed_rsa(cn, 730)
        key, cert = loaded
        _write_private(path, _key_pem(key) + cert.public_bytes(serialization.Encoding.PEM))
    return loaded


def load_or_create(data_dir: Path) -> KeyMaterial:
    """Create (or reuse) all key material under `data_dir` and return it.

    Raises OSError when the directory cannot be written.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    ca = _load_ca(data_dir) or _new_ca(data_dir)
    _issue_server_cert(data_dir, *ca)
    signing_key, signing_cert = _key_and_cert(data_dir / "signing.pem", "accounts.emulator.local")
    client_key, client_cert = _key_and_cert(
        data_dir / "client_cert.pem", "Contoso MSSP Partner Portal credential"
    )
    client = ClientCertificate(
        key_pem=_key_pem(client_key),
        cert_pem=client_cert.public_bytes(serialization.Encoding.PEM),
        certificate=client_cert,
        sha1_hex=client_cert.fingerprint(hashes.SHA1()).hex(),  # noqa: S303 - JWT x5t
        sha256_hex=client_cert.fingerprint(hashes.SHA256()).hex(),
    )
    return KeyMaterial(
        ca_path=(data_dir / "ca.pem").resolve(),
        server_cert_path=(data_dir / "server.pem").resolve(),
        server_key_path=(data_dir / "server-key.pem").resolve(),
        client_cert_path=(data_dir / "client_cert.pem").resolve(),
        signing_key=signing_key,
        signing_cert=signing_cert,
        client=client,
    )
