from django.apps import AppConfig


class AnalyticsConfig(AppConfig):
    name = "konsil.analytics"
    label = "analytics"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import permissions  # noqa: F401  (registers the named checks)
