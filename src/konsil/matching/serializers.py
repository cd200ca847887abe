"""API shapes of the specialty catalog and the specialist directory."""

from __future__ import annotations

from rest_framework import serializers


class SpecialtySerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    nucc_code = serializers.CharField()
    parent = serializers.CharField(source="parent_id", allow_null=True)


class SpecialtyRefSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()


class LicenseSerializer(serializers.Serializer):
    country = serializers.CharField()
    state = serializers.CharField()
    expires_on = serializers.DateField()


class SpecialistSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField(source="user.display_name")
    npi = serializers.CharField()
    institution = serializers.CharField()
    specialties = SpecialtyRefSerializer(many=True, source="specialties.all")
    languages = serializers.ListField(child=serializers.CharField())
    licenses = LicenseSerializer(many=True, source="licenses.all")
    subspecialties = SpecialtyRefSerializer(many=True, source="subspecialties.all")
    imlc = serializers.BooleanField()
    affiliations = serializers.ListField(child=serializers.CharField())
    capacity = serializers.IntegerField()
    active_cases = serializers.IntegerField(default=0)
    accepting = serializers.BooleanField()
    time_zone = serializers.CharField()
    turnaround_hours = serializers.IntegerField()
    delivery_modes = serializers.ListField(child=serializers.CharField())
    fee = serializers.DecimalField(max_digits=10, decimal_places=2, allow_null=True)
    fee_currency = serializers.CharField()
    quality = serializers.FloatField(allow_null=True)


class DirectoryFilterSerializer(serializers.Serializer):
    specialty = serializers.CharField(required=False, max_length=64)
    state = serializers.CharField(required=False, max_length=2)
    language = serializers.CharField(required=False, max_length=8)


class CandidateSerializer(serializers.Serializer):
    specialist = SpecialistSerializer()
    score = serializers.FloatField()
    reasons = serializers.ListField(child=serializers.CharField())
    factors = serializers.ListField(child=serializers.DictField(), default=list)
