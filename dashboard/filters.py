"""The incident list's filters: a Django form over the GET parameters, and the cleaned result.

Every filter lives in the URL (bookmarkable). A bad value never fails the page: it is dropped,
and ``IncidentFilters.ignored`` says in plain words what was dropped, for the page to show.

GET parameters: ``customer`` (several, Customer pk), ``severity`` (several), ``status`` (several),
``classification``, ``assigned`` (a UPN, or ``unassigned``), ``source`` (an alert serviceSource),
``date_field`` (``created`` | ``updated``), ``start`` / ``end`` (ISO dates, inclusive, UTC),
``q`` (free text), ``sort`` (``created`` | ``updated`` | ``severity``), ``after`` (page cursor)
and ``since`` (ISO timestamp: incidents first stored after it are "new").
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from django import forms
from django.http import QueryDict

from incidents.models import Classification, IncidentStatus, Severity

SORTS = {
    "created": "Created",
    "updated": "Last updated",
    "severity": "Severity",
}
DEFAULT_SORT = "created"
UNASSIGNED = "unassigned"
# Service sources Microsoft documents (contract §5.4); the filter accepts any other name too.
KNOWN_SERVICE_SOURCES = [
    "MicrosoftDefenderForEndpoint",
    "MicrosoftDefenderForOffice365",
    "MicrosoftDefenderForIdentity",
    "MicrosoftCloudAppSecurity",
    "AADIdentityProtection",
    "MicrosoftDefenderATP",
    "OfficeATP",
]
MAX_RANGE_DAYS = 366
_SOURCE_RE = re.compile(r"^[A-Za-z0-9_.\-]{1,100}$")
# A ``customer`` value that can be a Customer pk as ``str(pk)`` spells it (a bigint at most).
_PK_RE = re.compile(r"[1-9][0-9]{0,17}")


class IncidentFilterForm(forms.Form):
    """Validates the incident list's GET parameters other than ``customer`` (checked against
    the visible customers by ``parse_filters``)."""

    severity = forms.MultipleChoiceField(choices=Severity.choices, required=False)
    status = forms.MultipleChoiceField(choices=IncidentStatus.choices, required=False)
    classification = forms.ChoiceField(
        choices=[("", "Any"), *Classification.choices], required=False
    )
    assigned = forms.CharField(max_length=320, required=False, label="Assigned to")
    source = forms.CharField(max_length=100, required=False, label="Service source")
    date_field = forms.ChoiceField(
        choices=[("created", "Created"), ("updated", "Last updated")],
        required=False,
        label="Date",
    )
    start = forms.DateField(required=False, label="From")
    end = forms.DateField(required=False, label="To")
    q = forms.CharField(max_length=200, required=False, label="Search", strip=True)
    sort = forms.ChoiceField(choices=list(SORTS.items()), required=False)

    def clean_source(self) -> str:
        """The service source, stripped: an alert ``serviceSource`` name (contract §5.4) of
        1-100 letters, digits, ``_``, ``.`` or ``-``, or "". Raises ValidationError otherwise
        (``parse_filters`` then drops the filter and says so)."""
        value: str = self.cleaned_data.get("source", "").strip()
        if value and not _SOURCE_RE.match(value):
            raise forms.ValidationError("Service source names are letters and digits only.")
        return value

    def clean_assigned(self) -> str:
        """The assignee as typed, stripped: a UPN (at most 320 characters), ``unassigned`` in
        any case (``parse_filters`` normalises it to UNASSIGNED), or "" for anyone."""
        return str(self.cleaned_data.get("assigned", "")).strip()


@dataclass(frozen=True)
class IncidentFilters:
    """Cleaned filters. Empty tuples / strings / None mean "no restriction".

    ``customer_ids`` only ever holds visible customers' pks. ``start``/``end`` are inclusive UTC
    dates; ``created_range``/``updated_range`` give them as ``[from, to)`` datetimes.
    """

    customer_ids: tuple[int, ...] = ()
    severities: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()
    classification: str = ""
    assigned: str = ""  # "" any, UNASSIGNED, or an exact assignee
    source: str = ""
    date_field: str = "created"
    start: date | None = None
    end: date | None = None
    q: str = ""  # lowercased
    sort: str = DEFAULT_SORT
    ignored: tuple[str, ...] = field(default=())

    @property
    def date_range(self) -> tuple[datetime | None, datetime | None]:
        """``(from, to)`` as aware UTC datetimes, ``to`` exclusive (the day after ``end``)."""
        lo = datetime.combine(self.start, time.min, UTC) if self.start else None
        hi = datetime.combine(self.end + timedelta(days=1), time.min, UTC) if self.end else None
        return lo, hi

    def querydict(self, *, sort: str | None = None) -> QueryDict:
        """The GET parameters that reproduce these filters (no cursor), e.g. for links."""
        qd = QueryDict(mutable=True)
        qd.setlist("customer", [str(pk) for pk in self.customer_ids])
        qd.setlist("severity", list(self.severities))
        qd.setlist("status", list(self.statuses))
        for name, value in (
            ("classification", self.classification),
            ("assigned", self.assigned),
            ("source", self.source),
            ("q", self.q),
        ):
            if value:
                qd[name] = value
        if self.start or self.end:
            qd["date_field"] = self.date_field
        if self.start:
            qd["start"] = self.start.isoformat()
        if self.end:
            qd["end"] = self.end.isoformat()
        chosen = sort or self.sort
        if chosen != DEFAULT_SORT:
            qd["sort"] = chosen
        return qd

    @property
    def is_filtered(self) -> bool:
        """True if any filter (not the sort) narrows the list."""
        return bool(
            self.customer_ids
            or self.severities
            or self.statuses
            or self.classification
            or self.assigned
            or self.source
            or self.start
            or self.end
            or self.q
        )


# Allowed values of the multi-value parameters (customers come from the caller).
_MULTI_CHOICES = {
    "severity": ("Severity", {value for value, _ in Severity.choices}),
    "status": ("Status", {value for value, _ in IncidentStatus.choices}),
}


def _keep_known(values: list[str], allowed: set[str], label: str, ignored: list[str]) -> list[str]:
    """``values`` that are in ``allowed``; each other non-empty value is noted in ``ignored``."""
    kept = []
    for value in values:
        if value in allowed:
            kept.append(value)
        elif value != "":
            ignored.append(f"{label}: “{value[:40]}” is not one you can filter on.")
    return kept


def requested_customer_ids(data: QueryDict) -> list[int]:
    """The distinct ``customer`` values of ``data`` (request.GET) that are well-formed pks, as
    ints, for the caller to check against the visible customers before ``parse_filters``
    (which reports every other value as ignored). No query."""
    return sorted({int(value) for value in data.getlist("customer") if _PK_RE.fullmatch(value)})


def parse_filters(data: QueryDict, *, visible_customer_ids: Collection[int]) -> IncidentFilters:
    """Validate ``data`` (request.GET) into ``IncidentFilters``; never raises on bad input.

    ``visible_customer_ids`` must come from ``tenants.scoping.visible_customers`` (through
    ``dashboard.selectors``): every customer the user sees, or at least those of
    ``requested_customer_ids(data)``. A customer the user may not see is dropped like any
    unknown value (same message, no hint it exists).
    """
    ignored: list[str] = []
    visible = {str(pk) for pk in visible_customer_ids}
    customers = _keep_known(data.getlist("customer"), visible, "Customers", ignored)
    cleaned_data = data.copy()
    for name, (label, allowed) in _MULTI_CHOICES.items():
        cleaned_data.setlist(name, _keep_known(data.getlist(name), allowed, label, ignored))
    form = IncidentFilterForm(cleaned_data)
    form.is_valid()
    values: dict[str, Any] = {}
    for name, bound in form.fields.items():
        if name in form.errors:
            label = str(bound.label or name.capitalize())
            problems = " ".join(str(e) for e in form.errors[name])
            ignored.append(f"{label}: {problems} The filter was ignored.")
            continue
        values[name] = form.cleaned_data.get(name)
    start, end = values.get("start"), values.get("end")
    if start and end and start > end:
        ignored.append("From is after To; the date range was ignored.")
        start = end = None
    if start and end and (end - start).days > MAX_RANGE_DAYS:
        ignored.append(f"Date ranges are at most {MAX_RANGE_DAYS} days; the range was ignored.")
        start = end = None
    assigned = values.get("assigned") or ""
    if assigned.lower() == UNASSIGNED:
        assigned = UNASSIGNED
    return IncidentFilters(
        customer_ids=tuple(sorted({int(pk) for pk in customers})),
        severities=tuple(values.get("severity") or ()),
        statuses=tuple(values.get("status") or ()),
        classification=values.get("classification") or "",
        assigned=assigned,
        source=values.get("source") or "",
        date_field=values.get("date_field") or "created",
        start=start,
        end=end,
        q=(values.get("q") or "").lower(),
        sort=values.get("sort") or DEFAULT_SORT,
        ignored=tuple(ignored),
    )
