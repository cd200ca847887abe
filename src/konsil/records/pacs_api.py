"""API for coordinators: their network's source PACS, a study search on one, and pulls into a case with progress."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from konsil.cases.selectors import get_case

from . import nodes, retrieve
from .errors import RETRIEVE_ERRORS
from .models import RetrieveJob


class NodeSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    ae_title = serializers.CharField()
    retrieve = serializers.CharField()


class FindSerializer(serializers.Serializer):
    PatientName = serializers.CharField(required=False, allow_blank=True, max_length=64)
    PatientID = serializers.CharField(required=False, allow_blank=True, max_length=64)
    PatientBirthDate = serializers.CharField(required=False, allow_blank=True, max_length=17)
    StudyDate = serializers.CharField(required=False, allow_blank=True, max_length=17)
    AccessionNumber = serializers.CharField(required=False, allow_blank=True, max_length=16)
    ModalitiesInStudy = serializers.CharField(required=False, allow_blank=True, max_length=64)


class StudyFoundSerializer(serializers.Serializer):
    StudyInstanceUID = serializers.CharField()
    StudyDate = serializers.CharField()
    AccessionNumber = serializers.CharField()
    StudyDescription = serializers.CharField()
    ModalitiesInStudy = serializers.CharField()
    PatientName = serializers.CharField()
    PatientID = serializers.CharField()
    PatientBirthDate = serializers.CharField()
    NumberOfStudyRelatedInstances = serializers.CharField()


class RetrieveRequestSerializer(serializers.Serializer):
    node = serializers.UUIDField()
    study_uid = serializers.CharField(max_length=64)


class JobSerializer(serializers.ModelSerializer):
    node = serializers.CharField(source="node.name")
    error_message = serializers.SerializerMethodField()

    class Meta:
        model = RetrieveJob
        fields = ["id", "node", "study_uid", "method", "state", "total", "completed", "failed", "error",
                  "error_message", "created_at", "finished_at"]

    def get_error_message(self, job) -> str:
        return str(RETRIEVE_ERRORS.get(job.error, ""))


class SourcesView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(summary="The hospital PACS this coordinator may search and retrieve from",
                   responses=NodeSerializer(many=True), operation_id="records_pacs_list")
    def get(self, request):
        return Response(NodeSerializer(nodes.sources_for(request.user), many=True).data)


class FindView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(summary="Search a PACS for studies (C-FIND or QIDO-RS at study level)", request=FindSerializer,
                   responses={200: StudyFoundSerializer(many=True),
                              400: OpenApiResponse(description="No search field, or a field not valid"),
                              403: OpenApiResponse(description="Not a PACS of the user's networks"),
                              502: OpenApiResponse(description="The PACS did not answer or refused")},
                   operation_id="records_pacs_find")
    def post(self, request, node_id):
        data = FindSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return Response(retrieve.find(actor=request.user, node_id=node_id, keys=data.validated_data))


class CaseRetrievesView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(summary="Pulls of studies from a PACS into this case, with their progress",
                   responses=JobSerializer(many=True), operation_id="records_case_retrieves")
    def get(self, request, pk):
        case = get_case(request.user, pk, action="dicom.pacs.jobs")
        return Response(JobSerializer(retrieve.jobs_for(request.user, case), many=True).data)

    @extend_schema(summary="Pull a study from a PACS into this case (runs in the background)",
                   request=RetrieveRequestSerializer,
                   responses={202: JobSerializer, 400: OpenApiResponse(description="Not a study instance UID"),
                              403: OpenApiResponse(description="Not the case's coordinator, or not their PACS"),
                              409: OpenApiResponse(description="Case closed, or this study is already coming")},
                   operation_id="records_case_retrieve")
    def post(self, request, pk):
        case = get_case(request.user, pk, action="dicom.pacs.retrieve_request")
        data = RetrieveRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        job = retrieve.start(actor=request.user, case=case, node_id=data.validated_data["node"],
                             study_uid=data.validated_data["study_uid"])
        job.refresh_from_db()
        return Response(JobSerializer(job).data, status=status.HTTP_202_ACCEPTED)
