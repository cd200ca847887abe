from django.apps import AppConfig


class RecordsConfig(AppConfig):
    name = "konsil.records"
    label = "records"
