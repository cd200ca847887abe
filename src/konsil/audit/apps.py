from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "konsil.audit"
    label = "audit"
