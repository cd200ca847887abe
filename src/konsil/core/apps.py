from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "konsil.core"
    label = "core"

    def ready(self):
        from django.db.models.signals import m2m_changed, post_delete, post_save

        from . import icd10, zones
        from .context import forget
        from .startup import on_start

        for signal in (post_save, post_delete, m2m_changed):
            signal.connect(forget, dispatch_uid=f"konsil.core.context.forget.{id(signal)}")
        on_start("icd-10 indexes", icd10.warm)  # every create and submit suggests codes
        on_start("time zone names", zones.warm, where=("web",))  # every page checks the reader's zone
