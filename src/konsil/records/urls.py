from django.urls import path

from . import inbox_views, reading, views

app_name = "records"
urlpatterns = [
    path("cases/<uuid:pk>/requests/", views.request_records, name="request"),
    path("cases/<uuid:pk>/files.json", reading.files_json, name="files"),
    path("cases/<uuid:pk>/imaging.json", reading.imaging_json, name="imaging"),
    path("instances/<uuid:instance_id>/frames/<int:frame>.png", reading.frame, name="frame"),
    path("series/<uuid:pk>/thumbnail.png", reading.series_thumbnail, name="series-thumbnail"),
    path("previews/<uuid:pk>.png", reading.derivative, name="derivative"),
    path("imaging-inbox/", inbox_views.inbox_page, name="inbox"),
    path("imaging-inbox/<uuid:pk>/", inbox_views.decide, name="inbox-decide"),
]
