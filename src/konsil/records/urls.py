from django.urls import path

from . import inbox_views, pacs_pages, reading, views

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
    path("dicom-nodes/", pacs_pages.node_list, name="nodes"),
    path("dicom-nodes/new/", pacs_pages.node_new, name="node-new"),
    path("dicom-nodes/<uuid:pk>/", pacs_pages.node_edit, name="node-edit"),
    path("dicom-nodes/<uuid:pk>/toggle/", pacs_pages.node_toggle, name="node-toggle"),
    path("cases/<uuid:pk>/pacs/", pacs_pages.case_pacs, name="case-pacs"),
    path("cases/<uuid:pk>/pacs/pull/", pacs_pages.case_pull, name="case-pull"),
]
