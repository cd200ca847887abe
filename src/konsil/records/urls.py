from django.urls import path

from . import views

app_name = "records"
urlpatterns = [path("cases/<uuid:pk>/requests/", views.request_records, name="request")]
