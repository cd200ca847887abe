from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "konsil.accounts"
    label = "accounts"

    def ready(self):
        from django.db.models.signals import post_save, pre_save

        from . import tokens
        from .models import User

        pre_save.connect(tokens.note_password_change, sender=User, dispatch_uid="konsil-password-change-pre")
        post_save.connect(tokens.password_changed, sender=User, dispatch_uid="konsil-password-change-post")
