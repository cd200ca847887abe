from django.apps import AppConfig


class FhirConfig(AppConfig):
    name = "konsil.fhir"
    label = "fhir"
    verbose_name = "FHIR"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from django.db.models.signals import post_save

        from konsil.cases.models import StatusChange

        from .webhooks import on_status_change

        post_save.connect(on_status_change, sender=StatusChange, dispatch_uid="fhir.webhooks")

        from konsil.programs.models import ProgramEvent

        from .webhooks import on_program_event

        post_save.connect(on_program_event, sender=ProgramEvent, dispatch_uid="fhir.webhooks.programs")

        from corsheaders.signals import check_request_enabled

        from .cors import origin_allowed

        check_request_enabled.connect(origin_allowed, dispatch_uid="fhir.cors")
