"""Logging helpers: a filter that redacts secrets and tokens from every record.

Tokens, client secrets and authorization headers must never reach a log line. Code should not
log them in the first place; this filter is the safety net for third-party loggers
(urllib3, msal) and for exception messages that echo a request.
"""

from __future__ import annotations

import logging
import re

_PATTERNS = [
    # JWTs (access tokens, client assertions)
    (re.compile(r"eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*"), "[redacted-jwt]"),
    # Authorization: Bearer ...
    (
        re.compile(r"(?i)(authorization['\"]?\s*[:=]\s*['\"]?)(bearer\s+)?[^\s'\",}]+"),
        r"\1[redacted]",
    ),
    # a bare "Bearer <value>" (e.g. an exception message quoting a header's value)
    (re.compile(r"(?i)\b(bearer\s+)(?!\[redacted)[^\s'\",}]+"), r"\1[redacted]"),
    # form or JSON fields carrying secrets
    (
        re.compile(
            r"(?i)((?:client_secret|client_assertion|access_token|refresh_token|password)"
            r"['\"]?\s*[:=]\s*['\"]?)[^&\s'\",}]+"
        ),
        r"\1[redacted]",
    ),
]


def redact(text: str) -> str:
    """Return ``text`` with JWTs, bearer values and secret-bearing fields replaced."""
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


# Renders tracebacks exactly as a default ``logging.Formatter`` would.
_TRACEBACK_FORMATTER = logging.Formatter()


class RedactSecretsFilter(logging.Filter):
    """Logging filter: renders the message once, redacts it, and drops the args.

    Also renders the record's exception (``exc_info``) into ``exc_text`` and redacts it, and
    redacts ``stack_info``. A filter runs before the formatter, when ``exc_text`` is still
    None; ``logging.Formatter.format`` prints a preset ``exc_text`` instead of formatting
    ``exc_info`` again, so the traceback in the log line is the redacted one (and appears once).
    """

    def filter(self, record: logging.LogRecord) -> bool:
        """Redact ``record`` in place; always True (no record is dropped)."""
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a broken format string must not lose the record
            message = str(record.msg)
        record.msg = redact(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            try:
                record.exc_text = _TRACEBACK_FORMATTER.formatException(record.exc_info)
            except Exception:  # noqa: BLE001 - an unprintable exception must not lose the record
                record.exc_text = f"{record.exc_info[0]!r} (traceback could not be formatted)"
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True
