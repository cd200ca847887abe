"""Integrations pages for organization admins (FHIR clients, webhooks, deliveries)."""

from django.urls import path

from . import pages

app_name = "integrations"
urlpatterns = [
    path("", pages.integrations, name="page"),
    path("clients/new/", pages.client_new, name="client_new"),
    path("clients/<uuid:pk>/toggle/", pages.client_toggle, name="client_toggle"),
    path("webhooks/new/", pages.subscription_new, name="subscription_new"),
    path("webhooks/<uuid:pk>/toggle/", pages.subscription_toggle, name="subscription_toggle"),
    path("deliveries/<uuid:pk>/replay/", pages.delivery_replay, name="delivery_replay"),
]
