from django.apps import AppConfig


class FhirConfig(AppConfig):
    name = "konsil.fhir"
    label = "fhir"
    verbose_name = "FHIR"
    default_auto_field = "django.db.models.BigAutoField"
