"""``python manage.py onboarding_link "<customer name>" [--new]``: create the customer if it
does not exist and print its onboarding link (same services as the Customers page)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from onboarding import links
from tenants.services import get_or_create_customer

ACTOR = "command line"


class Command(BaseCommand):
    help = "Create the customer if needed and print its onboarding link."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="The customer's display name.")
        parser.add_argument(
            "--new",
            action="store_true",
            help="Issue a new link even if a valid one exists (the old one stops working).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        customer, created = get_or_create_customer(name=options["name"], actor_label=ACTOR)
        link = None if options["new"] else links.active_link(customer)
        if link is None:
            link = links.issue_link(customer=customer, actor_label=ACTOR)
        self.stderr.write(
            f"{'Created' if created else 'Customer'} {customer.name} (id {customer.pk}); "
            f"link valid until {link.expires_at:%Y-%m-%d %H:%M %Z}."
        )
        self.stdout.write(links.link_url(link))
