from django.apps import AppConfig


class CasesConfig(AppConfig):
    name = "konsil.cases"
    label = "cases"

    def ready(self):
        from . import permissions  # noqa: F401  (registers the rules)
