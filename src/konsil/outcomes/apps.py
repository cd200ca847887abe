from django.apps import AppConfig


class OutcomesConfig(AppConfig):
    name = "konsil.outcomes"
    label = "outcomes"

    def ready(self):
        from . import permissions  # noqa: F401  (registers the rules)
