from django.apps import AppConfig


class ProgramsConfig(AppConfig):
    name = "konsil.programs"
    label = "programs"
    verbose_name = "Programs"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from django.db.models.signals import post_save

        from konsil.cases.models import StatusChange

        from . import permissions  # noqa: F401  (registers the named checks)
        from .signals import on_status_change

        post_save.connect(on_status_change, sender=StatusChange, dispatch_uid="programs.status")
