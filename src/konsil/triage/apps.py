from django.apps import AppConfig


class TriageConfig(AppConfig):
    name = "konsil.triage"
    label = "triage"
