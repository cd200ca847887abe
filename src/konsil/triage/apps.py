from django.apps import AppConfig


class TriageConfig(AppConfig):
    name = "konsil.triage"
    label = "triage"

    def ready(self):
        from konsil.core.startup import on_start

        from .engine import warm

        on_start("triage engine", warm, where=("worker",))  # the first case a worker triages is not slower
