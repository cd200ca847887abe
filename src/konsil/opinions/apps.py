from django.apps import AppConfig


class OpinionsConfig(AppConfig):
    name = "konsil.opinions"
    label = "opinions"
