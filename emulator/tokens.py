"""Access tokens (§4), their verification by the API (§11.2) and client assertions (§3.1)."""

from __future__ import annotations

import base64
import json
import os
import threading
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

from .constants import CLOCK_SKEW_SECONDS, LOGIN_HOST
from .pki import ClientCertificate, KeyMaterial, b64url


class TokenRejected(Exception):
    """The bearer token is unusable; the message is what the 401 body says (§9)."""


@dataclass(frozen=True)
class AccessTokenRequest:
    """Inputs for one app-only token: who, for which tenant and resource, which roles."""

    tenant_id: str
    client_id: str
    sp_oid: str
    audience: str
    roles: tuple[str, ...]
    auth_type: str  # appidacr: "1" secret, "2" certificate
    now: float
    expires_in: int


def unverified_claims(token: str) -> dict[str, Any]:
    """Payload of a JWT without checking anything; {} when it is not a JWT."""
    try:
        payload = token.split(".")[1]
        data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


class TokenService:
    """Signs v1-shaped access tokens and verifies them on the API side (cached per token)."""

    def __init__(self, keys: KeyMaterial) -> None:
        self._keys = keys
        self._key_pem = keys.signing_key
        self._public = keys.signing_key.public_key()
        self._cache: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()

    def jwks(self, issuer: str | None) -> dict[str, Any]:
        """JWKS body `{"keys": [...]}` (§4); `issuer` is added to each key when given (v2)."""
        key: dict[str, Any] = dict(self._keys.jwk())
        if issuer is not None:
            key["issuer"] = issuer
        return {"keys": [key]}

    def issue(self, req: AccessTokenRequest) -> str:
        """An RS256 JWT with header typ/alg/x5t/kid and the §4 v1 claims (app-only).

        `roles` is omitted when empty (§4). `exp - iat == expires_in`.
        """
        now = int(req.now)
        sts = f"https://sts.windows.net/{req.tenant_id}/"
        claims: dict[str, Any] = {
            "aud": req.audience,
            "iss": sts,
            "iat": now,
            "nbf": now,
            "exp": now + int(req.expires_in),
            "aio": b64url(os.urandom(48)),
            "appid": req.client_id,
            "appidacr": req.auth_type,
            "idp": sts,
            "idtyp": "app",
            "oid": req.sp_oid,
            "rh": "0." + b64url(os.urandom(45)) + ".",
            "sub": req.sp_oid,
            "tid": req.tenant_id,
            "uti": b64url(os.urandom(16)),
            "ver": "1.0",
            "xms_tcdt": now - 400 * 86400,
        }
        if req.roles:
            claims["roles"] = list(req.roles)
        headers = {"typ": "JWT", "x5t": self._keys.kid, "kid": self._keys.kid}
        return jwt.encode(claims, self._key_pem, algorithm="RS256", headers=headers)

    def verify(self, token: str, *, now: float, audiences: tuple[str, ...]) -> dict[str, Any]:
        """Check signature, exp/nbf (+-5 min), aud and iss vs tid, in that order (§11.2).

        Returns the claims; raises TokenRejected with the 401 message.
        """
        with self._lock:
            claims = self._cache.get(token)
        if claims is None:
            claims = self._verify_signature(token)
            with self._lock:
                if len(self._cache) > 4096:
                    self._cache.clear()
                self._cache[token] = claims
        exp, nbf = claims.get("exp"), claims.get("nbf", 0)
        if not isinstance(exp, int) or exp + CLOCK_SKEW_SECONDS < now:
            raise TokenRejected("The access token has expired.")
        if isinstance(nbf, int) and nbf - CLOCK_SKEW_SECONDS > now:
            raise TokenRejected("The access token is not yet valid.")
        aud = str(claims.get("aud", "")).rstrip("/").lower()
        if aud not in audiences:
            raise TokenRejected("The access token audience is invalid for this resource.")
        tid = claims.get("tid")
        allowed_iss = (f"https://sts.windows.net/{tid}/", f"{LOGIN_HOST}/{tid}/v2.0")
        if not isinstance(tid, str) or claims.get("iss") not in allowed_iss:
            raise TokenRejected("The access token issuer does not match its tenant.")
        return claims

    def _verify_signature(self, token: str) -> dict[str, Any]:
        try:
            header = jwt.get_unverified_header(token)
            if header.get("kid") != self._keys.kid or header.get("alg") != "RS256":
                raise TokenRejected("The access token signature is invalid.")
            claims: dict[str, Any] = jwt.decode(
                token,
                self._public,
                algorithms=["RS256"],
                options={
                    "verify_exp": False,
                    "verify_nbf": False,
                    "verify_iat": False,
                    "verify_aud": False,
                    "verify_iss": False,
                },
            )
        except jwt.InvalidTokenError as exc:
            raise TokenRejected("The access token signature is invalid.") from exc
        return claims


class AssertionRejected(Exception):
    """Client assertion failed; `code` is the AADSTS number, the message is its text."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


def verify_client_assertion(
    assertion: str,
    *,
    client_id: str,
    certificate: ClientCertificate,
    audiences: set[str],
    now: float,
) -> None:
    """Validate a certificate client assertion (§3.1, §10.6).

    Header RS256 + `x5t` (SHA-1) or PS256 + `x5t#S256` naming the registered certificate;
    signature by its key; `aud` one of `audiences` (exact token URLs); `iss` == `sub` ==
    client id; `jti` present; `exp`/`nbf` within +-5 min. Raises AssertionRejected (700027,
    or 700024 when outside its validity window).
    """
    try:
        header = jwt.get_unverified_header(assertion)
    except jwt.InvalidTokenError as exc:
        raise AssertionRejected(700027, "Client assertion is not a valid JWT.") from exc
    alg = header.get("alg")
    x5t = str(header.get("x5t") or "").rstrip("=")  # MSAL pads its base64url thumbprints
    x5t_s256 = str(header.get("x5t#S256") or "").rstrip("=")
    thumb_ok = (alg == "RS256" and x5t == certificate.x5t) or (
        alg == "PS256" and x5t_s256 == certificate.x5t_s256
    )
    if not thumb_ok:
        used = x5t_s256 or x5t
        raise AssertionRejected(
            700027,
            "The certificate with identifier used to sign the client assertion is not "
            f"registered on application. [Reason - The key was not found., Thumbprint of key "
            f"used by client: '{used}', Please visit the Azure Portal, Graph Explorer or use "
            f"PowerShell to get a list of certificates registered on the app: '{client_id}'.]",
        )
    public = certificate.certificate.public_key()
    if not isinstance(public, rsa.RSAPublicKey):
        raise AssertionRejected(700027, "Client assertion failed signature validation.")
    try:
        claims = jwt.decode(
            assertion,
            public,
            algorithms=[str(alg)],
            options={"verify_exp": False, "verify_nbf": False, "verify_aud": False},
        )
    except jwt.InvalidTokenError as exc:
        raise AssertionRejected(700027, "Client assertion failed signature validation.") from exc
    if claims.get("aud") not in audiences:
        raise AssertionRejected(
            700027,
            f"Client assertion audience claim does not match Realm issuer. Review the "
            f"documentation at https://aka.ms/certCreds . aud: '{claims.get('aud')}'.",
        )
    if claims.get("iss") != client_id or claims.get("sub") != client_id or not claims.get("jti"):
        raise AssertionRejected(
            700027, "Client assertion contains an invalid iss, sub or jti claim."
        )
    exp, nbf = claims.get("exp"), claims.get("nbf", claims.get("iat", 0))
    if (
        not isinstance(exp, (int, float))
        or exp + CLOCK_SKEW_SECONDS < now
        or (isinstance(nbf, (int, float)) and nbf - CLOCK_SKEW_SECONDS > now)
    ):
        raise AssertionRejected(700024, "Client assertion is not within its valid time range.")
