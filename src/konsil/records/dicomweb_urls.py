"""DICOMweb routes of one case: /dicomweb/cases/<case id>/studies/..."""

from django.urls import path, re_path

from . import dicomweb as dw

app_name = "dicomweb"
S = "studies/<str:study_uid>"
SE = f"{S}/series/<str:series_uid>"
I = f"{SE}/instances/<str:sop_uid>"  # noqa: E741

urlpatterns = [
    path("", dw.Root.as_view(), name="root"),
    path("studies", dw.Studies.as_view(), name="studies"),
    path("series", dw.QidoSeries.as_view(), name="all-series"),
    path("instances", dw.QidoInstances.as_view(), name="all-instances"),
    path(f"{S}/series", dw.QidoSeries.as_view(), name="series"),
    path(f"{S}/instances", dw.QidoInstances.as_view(), name="study-instances"),
    path(f"{SE}/instances", dw.QidoInstances.as_view(), name="instances"),
    path(S, dw.StudyResource.as_view(), name="study"),
    path(f"{S}/metadata", dw.WadoMetadata.as_view(), name="study-metadata"),
    path(SE, dw.WadoInstances.as_view(), name="series-retrieve"),
    path(f"{SE}/metadata", dw.WadoMetadata.as_view(), name="series-metadata"),
    path(I, dw.WadoInstances.as_view(), name="instance"),
    path(f"{I}/metadata", dw.WadoMetadata.as_view(), name="instance-metadata"),
    path(f"{I}/rendered", dw.WadoRendered.as_view(), name="rendered"),
    path(f"{I}/frames/<int:frame>/rendered", dw.WadoRendered.as_view(), name="frame-rendered"),
    path(f"{I}/frames/<str:frames>", dw.WadoFrames.as_view(), name="frames"),
    path(f"{I}/bulkdata/<str:tag>", dw.WadoBulkdata.as_view(), name="bulkdata"),
    re_path(r"^(?P<rest>.*)$", dw.NotFoundView.as_view(), name="not-found"),
]
