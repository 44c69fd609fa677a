"""``python manage.py onboarding_link "<customer name>" [--new]``: create the customer if it
does not exist and print its onboarding link (same services as the Customers page)."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from onboarding import links
from tenants.services import get_or_create_customer

ACTOR = "command line"


class Command(BaseCommand):
    """``onboarding_link NAME [--new]``: print the customer's onboarding link on stdout.

    Creates the customer NAME if absent (``tenants.services.get_or_create_customer``: name
    normalised, matched ignoring case, first link issued). Reprints the active link, or issues a
    new one (revoking the old) when there is none or ``--new`` is given. Raises CommandError
    (exit 1) for an empty or too long name.
    """

    help = "Create the customer if needed and print its onboarding link."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="The customer's display name.")
        parser.add_argument(
            "--new",
            action="store_true",
            help="Issue a new link even if a valid one exists (the old one stops working).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            customer, created = get_or_create_customer(name=options["name"], actor_label=ACTOR)
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from None
        link = None if options["new"] else links.active_link(customer)
        if link is None:
            link = links.issue_link(customer=customer, actor_label=ACTOR)
        self.stderr.write(
            f"{'Created' if created else 'Customer'} {customer.name} (id {customer.pk}); "
            f"link valid until {link.expires_at:%Y-%m-%d %H:%M %Z}."
        )
        self.stdout.write(links.link_url(link))
