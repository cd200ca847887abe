from django.urls import path

from . import views

app_name = "fhir"

urlpatterns = [
    path("", views.base, name="base"),
    path("metadata", views.metadata, name="metadata"),
    path(".well-known/smart-configuration", views.smart_config, name="smart-configuration"),
    path("auth/token", views.token, name="token"),
    path("DiagnosticReport/<str:rid>/$document", views.document, name="document"),
    path("Binary/<str:rid>", views.binary, name="binary"),
    path("<str:rtype>", views.type_level, name="type"),
    path("<str:rtype>/<str:rid>", views.instance, name="instance"),
]
