from django.apps import AppConfig


class ConsultsConfig(AppConfig):
    name = "konsil.consults"
    label = "consults"

    def ready(self):
        from . import permissions  # noqa: F401  (registers the rules)
