from django.apps import AppConfig


class AccountsConfig(AppConfig):
    """Roles (groups) and the permissions each carries."""

    name = "accounts"

    def ready(self) -> None:
        from accounts import signals  # noqa: F401
