"""OData query options for `GET /api/incidents` (§5.1 and its emulator choices).

`$filter` on lastUpdateTime, createdTime (unquoted ISO 8601 DateTimeOffset), status and
assignedTo (single-quoted strings or null) with eq ne gt ge lt le joined by `and` (parentheses
allowed). `or`, `not`, functions, other properties, `$orderby`, `$count`, `$select`, `$expand`
and other `$` options raise ODataQueryError (-> 400 ODataError). `$top` <= 100 (reject or clamp),
`$skip` >= 0.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .constants import INCIDENT_STATUSES
from .datagen import IncidentRecord
from .timeutil import format_ticks, parse_iso

MAX_TOP = 100
_PREFIX = "The query specified in the URI is not valid. "
_ENTITY_TYPE = "Microsoft.Windows.Security.Incidents.Incident"
_TOKEN_RE = re.compile(
    r"\s*(?:(?P<lp>\()|(?P<rp>\))|(?P<comma>,)|(?P<str>'(?:[^']|'')*')"
    r"|(?P<dt>\d{4}-\d{2}-\d{2}T[0-9:.]+(?:Z|[+-]\d{2}:\d{2})?)"
    r"|(?P<num>-?\d+(?:\.\d+)?)|(?P<word>[A-Za-z_][A-Za-z0-9_./]*)|(?P<bad>\S))"
)
_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "eq": operator.eq,
    "ne": operator.ne,
    "gt": operator.gt,
    "ge": operator.ge,
    "lt": operator.lt,
    "le": operator.le,
}
_OP_NAMES = {
    "eq": "Equal",
    "ne": "NotEqual",
    "gt": "GreaterThan",
    "ge": "GreaterThanOrEqual",
    "lt": "LessThan",
    "le": "LessThanOrEqual",
}
_DATETIME_PROPS = {"lastUpdateTime": "updated", "createdTime": "created"}
_STRING_PROPS = {"status": "status", "assignedTo": "assigned_to"}
#: Incident properties that exist but cannot be filtered on (§5.1).
_KNOWN_PROPS = {
    "incidentId",
    "incidentUri",
    "redirectIncidentId",
    "incidentName",
    "classification",
    "determination",
    "severity",
    "tags",
    "comments",
    "alerts",
}
_SUPPORTED_OPTIONS = {"$filter", "$top", "$skip"}


class ODataQueryError(ValueError):
    """A query the service rejects with `400 {"error":{"code":"ODataError",...}}`."""


@dataclass(frozen=True)
class Clause:
    """One comparison: wire property, operator, and the literal (ticks, str or None)."""

    prop: str
    op: str
    value: Any

    def canonical(self) -> str:
        """Stable text form used as a cache key."""
        if self.prop in _DATETIME_PROPS:
            lit = format_ticks(self.value)
        else:
            lit = "null" if self.value is None else "'" + self.value.replace("'", "''") + "'"
        return f"{self.prop} {self.op} {lit}"


@dataclass(frozen=True)
class ListQuery:
    """A validated list request: clauses (AND-ed), top, skip and whether $top was given."""

    clauses: tuple[Clause, ...]
    top: int
    skip: int
    top_given: bool
    raw_filter: str | None

    @property
    def key(self) -> str:
        """Cache key of the filter part."""
        return " and ".join(sorted(c.canonical() for c in self.clauses))

    def predicate(self) -> Callable[[IncidentRecord], bool] | None:
        """A function record -> bool, or None when there is no filter."""
        if not self.clauses:
            return None
        tests = []
        for c in self.clauses:
            attr = _DATETIME_PROPS.get(c.prop) or _STRING_PROPS[c.prop]
            tests.append((attr, _OPS[c.op], c.value, c.op))

        def match(rec: IncidentRecord) -> bool:
            for attr, fn, value, op in tests:
                field = getattr(rec, attr)
                if field is None or value is None:
                    if op == "eq":
                        ok = field is value
                    elif op == "ne":
                        ok = field is not value
                    else:
                        ok = False
                else:
                    ok = fn(field, value)
                if not ok:
                    return False
            return True

        return match


def _tokens(text: str) -> list[tuple[str, str]]:
    out = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        m = _TOKEN_RE.match(text, pos)
        if m is None or m.lastgroup is None:
            raise ODataQueryError(_PREFIX + f"Syntax error at position {pos} in '{text}'.")
        if m.lastgroup == "bad":
            raise ODataQueryError(
                _PREFIX + f"Syntax error: character '{m.group('bad')}' is not valid at position "
                f"{m.start('bad')} in '{text}'."
            )
        out.append((m.lastgroup, m.group(m.lastgroup)))
        pos = m.end()
    return out


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.toks = _tokens(text)
        self.i = 0

    def peek(self) -> tuple[str, str] | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self) -> tuple[str, str]:
        tok = self.peek()
        if tok is None:
            raise ODataQueryError(_PREFIX + f"Expression expected at the end of '{self.text}'.")
        self.i += 1
        return tok

    def parse(self) -> list[Clause]:
        clauses = self.expr()
        if self.peek() is not None:
            kind, value = self.take()
            if kind == "word" and value.lower() == "or":
                raise ODataQueryError(_PREFIX + "The 'or' operator is not supported in $filter.")
            raise ODataQueryError(_PREFIX + f"Syntax error: unexpected '{value}' in '{self.text}'.")
        return clauses

    def expr(self) -> list[Clause]:
        clauses = self.term()
        while (tok := self.peek()) is not None and tok[0] == "word" and tok[1] == "and":
            self.i += 1
            clauses += self.term()
        tok = self.peek()
        if tok is not None and tok[0] == "word" and tok[1].lower() == "or":
            raise ODataQueryError(_PREFIX + "The 'or' operator is not supported in $filter.")
        return clauses

    def term(self) -> list[Clause]:
        kind, value = self.take()
        if kind == "lp":
            inner = self.expr()
            if self.take()[0] != "rp":
                raise ODataQueryError(_PREFIX + f"')' expected in '{self.text}'.")
            return inner
        if kind != "word":
            raise ODataQueryError(_PREFIX + f"Syntax error: unexpected '{value}' in '{self.text}'.")
        if value in ("not", "or", "and"):
            raise ODataQueryError(_PREFIX + f"The '{value}' operator is not supported in $filter.")
        nxt = self.peek()
        if nxt is not None and nxt[0] == "lp":
            raise ODataQueryError(_PREFIX + f"The function '{value}' is not supported in $filter.")
        return [self.comparison(value)]

    def comparison(self, prop: str) -> Clause:
        if prop not in _DATETIME_PROPS and prop not in _STRING_PROPS:
            if prop in _KNOWN_PROPS:
                raise ODataQueryError(
                    _PREFIX + f"The property '{prop}' cannot be used in the $filter query option."
                )
            raise ODataQueryError(
                _PREFIX + f"Could not find a property named '{prop}' on type '{_ENTITY_TYPE}'."
            )
        kind, op = self.take()
        if kind != "word" or op not in _OPS:
            raise ODataQueryError(_PREFIX + f"Syntax error: unknown operator '{op}'.")
        lkind, lit = self.take()
        return Clause(prop, op, self.literal(prop, op, lkind, lit))

    def literal(self, prop: str, op: str, kind: str, lit: str) -> Any:
        edm = "Edm.DateTimeOffset" if prop in _DATETIME_PROPS else "Edm.String"
        if kind == "word" and lit == "null":
            if prop in _DATETIME_PROPS or op not in ("eq", "ne"):
                raise self.incompatible(edm, "null", op)
            return None
        if prop in _DATETIME_PROPS:
            if kind != "dt":
                found = "Edm.String" if kind == "str" else "Edm.Int32"
                raise self.incompatible(edm, found, op)
            try:
                return parse_iso(lit)
            except ValueError as exc:
                raise ODataQueryError(
                    _PREFIX + f"The DateTimeOffset text '{lit}' should be in format "
                    "'yyyy-mm-ddThh:mm:ss('.'s+)?(zzzzzz)?' and each field value is within "
                    "valid range."
                ) from exc
        if kind != "str":
            found = "Edm.DateTimeOffset" if kind == "dt" else "Edm.Int32"
            raise self.incompatible(edm, found, op)
        value = lit[1:-1].replace("''", "'")
        if prop == "status":
            if op not in ("eq", "ne"):
                raise ODataQueryError(
                    _PREFIX + f"The operator '{op}' is not supported for the property 'status'."
                )
            if value not in INCIDENT_STATUSES:
                raise ODataQueryError(
                    _PREFIX + f"The string '{value}' is not a valid enumeration type constant."
                )
        return value

    @staticmethod
    def incompatible(edm: str, found: str, op: str) -> ODataQueryError:
        return ODataQueryError(
            _PREFIX + "A binary operator with incompatible types was detected. Found operand "
            f"types '{edm}' and '{found}' for operator kind '{_OP_NAMES[op]}'."
        )


def parse_filter(text: str) -> list[Clause]:
    """Parse a `$filter` value into AND-ed clauses; raises ODataQueryError."""
    if not text.strip():
        raise ODataQueryError(_PREFIX + "The $filter query option must not be empty.")
    return _Parser(text).parse()


def _int_option(name: str, raw: str) -> int:
    if not raw.isdigit():
        raise ODataQueryError(
            _PREFIX + f"Invalid value '{raw}' for {name} query option found. The {name} query "
            "option requires a non-negative integer value."
        )
    return int(raw)


def parse_list_query(query: dict[str, str], *, default_top: int, top_over_max: str) -> ListQuery:
    """Validate the query options of a list request; raises ODataQueryError.

    Unknown `$` options are rejected; other parameters are ignored. `$top` over 100 is rejected
    ("reject") or clamped ("clamp"); without `$top`, `default_top` rows.
    """
    for name in query:
        if name.startswith("$") and name not in _SUPPORTED_OPTIONS:
            raise ODataQueryError(
                _PREFIX + f"Query option '{name}' is not allowed. To allow it, set the "
                "'AllowedQueryOptions' property on EnableQueryAttribute or QueryValidationSettings."
            )
    raw_filter = query.get("$filter")
    clauses = parse_filter(raw_filter) if raw_filter is not None else []
    top_given = "$top" in query
    top = _int_option("$top", query["$top"]) if top_given else default_top
    if top > MAX_TOP:
        if top_over_max == "reject":
            raise ODataQueryError(
                _PREFIX + f"The limit of '{MAX_TOP}' for Top query has been exceeded. The value "
                f"from the incoming request is '{top}'."
            )
        top = MAX_TOP
    skip = _int_option("$skip", query["$skip"]) if "$skip" in query else 0
    return ListQuery(tuple(clauses), top, skip, top_given, raw_filter)
