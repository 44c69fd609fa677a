"""Keeps the role groups in step with the code after each migrate."""

from typing import Any

from django.apps import apps
from django.db.models.signals import post_migrate
from django.dispatch import receiver


@receiver(post_migrate)
def create_roles(sender: Any, **kwargs: Any) -> None:
    """Once the last app with models has migrated (all permissions exist), sync the role groups."""
    with_models = [c for c in apps.get_app_configs() if c.models_module is not None]
    if sender is not with_models[-1]:
        return
    from accounts.roles import ensure_roles

    ensure_roles()
