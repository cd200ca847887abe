"""API shapes of the specialty catalog and the specialist directory."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from konsil.core.api import StrictSerializer


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
    fallback_from = serializers.CharField(allow_null=True, default=None,
                                          help_text="the case's specialty when nobody there was eligible and the "
                                                    "candidate practises its parent specialty")


class FailedConstraintSerializer(serializers.Serializer):
    constraint = serializers.CharField(help_text="specialty, availability, licence, language, capacity, conflict, "
                                                 "declined or delivery")
    detail = serializers.CharField()
    code = serializers.CharField(required=False, help_text="licence: the licensure decision code")


class NearestSerializer(serializers.Serializer):
    specialist = serializers.UUIDField()
    name = serializers.CharField()
    failed = FailedConstraintSerializer(many=True)


class WayOutSerializer(serializers.Serializer):
    way = serializers.CharField(help_text="related_specialty, consult_path, interpreter, other_network, panel, "
                                          "escalate")
    label = serializers.CharField()
    action = serializers.CharField(allow_null=True, help_text="a lifecycle action (retriage, with `params`) or "
                                                              "a way to POST to ways-out/")
    params = serializers.DictField(required=False)
    eligible = serializers.IntegerField(required=False)
    href = serializers.CharField(allow_null=True)


class RoutingOutcomeSerializer(serializers.Serializer):
    outcome = serializers.ChoiceField(choices=["offered", "coordinators"])
    label = serializers.CharField()
    reasons = serializers.ListField(child=serializers.CharField())
    red_flag = serializers.BooleanField()
    specialist = serializers.UUIDField(allow_null=True)
    at = serializers.DateTimeField()


class EligibilitySerializer(serializers.Serializer):
    eligible = serializers.IntegerField()
    routing = RoutingOutcomeSerializer(allow_null=True, help_text="what auto-routing last did with the case")
    fallback_from = serializers.CharField(allow_null=True)
    nearest = NearestSerializer(many=True)
    ways_out = WayOutSerializer(many=True)


class WayOutInputSerializer(StrictSerializer):
    way = serializers.ChoiceField(choices=["interpreter", "consult_path", "escalate", "other_network"])
    reason = serializers.CharField(required=False, allow_blank=True, max_length=500)
    network = serializers.UUIDField(required=False, help_text="other_network: the provider network to refer to")

    def validate(self, attrs):
        if attrs.get("way") == "other_network" and not attrs.get("network"):
            raise serializers.ValidationError({"network": [_("Choose the provider network to refer the case to.")]})
        return attrs
