from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "konsil.accounts"
    label = "accounts"
