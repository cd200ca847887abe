from django.apps import AppConfig


class MatchingConfig(AppConfig):
    name = "konsil.matching"
    label = "matching"
