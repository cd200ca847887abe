from django.apps import AppConfig


class MatchingConfig(AppConfig):
    name = "konsil.matching"
    label = "matching"

    def ready(self):
        from . import permissions  # noqa: F401  (registers the rules)
