from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "konsil.core"
    label = "core"
