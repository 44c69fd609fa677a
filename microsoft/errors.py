"""Errors raised by the Microsoft clients, classified by what the portal should do next.

Token errors carry the AADSTS code (contract §3.3, §3.4); Defender API errors carry the HTTP
status and the error code from the envelope (§9). ``message`` is plain words for the tenant page.
"""

from __future__ import annotations


class MicrosoftError(Exception):
    """Base class. ``code`` is short ("AADSTS7000229", "HTTP 403"); ``message`` plain words."""

    def __init__(self, message: str, *, code: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.code = code

    def __str__(self) -> str:
        return f"{self.code}: {self.message}" if self.code else self.message


class TransientError(MicrosoftError):
    """A timeout, dropped connection or 5xx; worth retrying with backoff."""


class TokenError(MicrosoftError):
    """Entra ID refused a client-credential token. ``aadsts`` is the numeric code, or None."""

    def __init__(self, message: str, *, aadsts: int | None, error: str = "") -> None:
        super().__init__(message, code=f"AADSTS{aadsts}" if aadsts else (error or "token_error"))
        self.aadsts = aadsts
        self.error = error


class ConsentMissingError(TokenError):
    """AADSTS7000229: no service principal in the tenant (never consented, or app deleted)."""


class TenantNotFoundError(TokenError):
    """AADSTS90002: the tenant does not exist."""


class AppCredentialsError(TokenError):
    """The portal's own app registration is wrong: unknown client ID (700016), wrong or expired
    secret (7000215, 7000222), bad certificate assertion (700027), no credential (7000218)."""


class TokenClaimsError(MicrosoftError):
    """A token was issued but its claims are wrong (``tid`` mismatch, wrong ``aud``)."""


class MissingRolesError(MicrosoftError):
    """The token lacks required app roles, or the API answered 403 (consent without roles)."""

    def __init__(self, message: str, *, missing: list[str], code: str = "missing_roles") -> None:
        super().__init__(message, code=code)
        self.missing = missing


class DefenderApiError(MicrosoftError):
    """The Defender API refused a request. ``status`` is the HTTP status."""

    def __init__(self, message: str, *, status: int, code: str = "") -> None:
        super().__init__(message, code=code or f"HTTP {status}")
        self.status = status


class UnauthorizedError(DefenderApiError):
    """401: the token itself was rejected (signature, expiry, audience)."""


class ThrottledError(DefenderApiError):
    """429: quota exceeded; no call may go to the tenant for ``retry_after`` seconds.

    Raised for the Defender API (§9, ``code`` "TooManyRequests"), for the local call limiter,
    and for a throttled Entra ID token request (``code`` "AADSTS90055" or "token_429").
    """

    def __init__(self, message: str, *, retry_after: float, code: str = "TooManyRequests") -> None:
        super().__init__(message, status=429, code=code)
        self.retry_after = retry_after


class BadResponseError(MicrosoftError):
    """The response could not be used: malformed JSON, wrong shape, wrong tenant, oversized."""
