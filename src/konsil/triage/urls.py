from django.urls import path

from . import views

app_name = "triage"
urlpatterns = [
    path("cases/<uuid:pk>/questions/", views.questions, name="questions"),
    path("records/<uuid:pk>/identity/", views.record_identity, name="record-identity"),
]
