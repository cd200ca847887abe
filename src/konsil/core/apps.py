from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "konsil.core"
    label = "core"

    def ready(self):
        from django.db.models.signals import m2m_changed, post_delete, post_save

        from .context import forget

        for signal in (post_save, post_delete, m2m_changed):
            signal.connect(forget, dispatch_uid=f"konsil.core.context.forget.{id(signal)}")
