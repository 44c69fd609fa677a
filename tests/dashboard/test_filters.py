"""Parsing the list's GET parameters: which ``customer`` values are checked against the
visible customers, and what is reported as ignored."""

from __future__ import annotations

from django.http import QueryDict

from dashboard.filters import parse_filters, requested_customer_ids

CUSTOMER_VALUES = (
    "customer=7&customer=12&customer=7&customer=007&customer=abc&customer=&customer=-3"
    "&customer=%D9%A3&customer=5%0A&customer=123456789012345678901&customer=0"
)


def test_only_well_formed_customer_pks_are_requested() -> None:
    assert requested_customer_ids(QueryDict(CUSTOMER_VALUES)) == [7, 12]


def test_customers_outside_the_visible_ids_are_ignored_with_a_message() -> None:
    filters = parse_filters(QueryDict(CUSTOMER_VALUES), visible_customer_ids=[7, 99])
    assert filters.customer_ids == (7,)
    assert filters.ignored == tuple(
        f"Customers: “{value}” is not one you can filter on."
        for value in ("12", "007", "abc", "-3", "٣", "5\n", "123456789012345678901", "0")
    )
