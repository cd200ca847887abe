"""API shapes of the signed-in user and of token sign-in."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from konsil.core.api import StrictSerializer


class TokenRequestSerializer(StrictSerializer):
    email = serializers.CharField(max_length=254)
    password = serializers.CharField(max_length=4096, trim_whitespace=False, style={"input_type": "password"})
    otp = serializers.CharField(
        max_length=16, required=False, allow_blank=True,
        help_text=_("The 6-digit code of the authenticator app; required for clinical and admin roles."),
    )


class MembershipSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="organization.id")
    name = serializers.CharField(source="organization.name")
    organization_kind = serializers.CharField(source="organization.kind")
    role = serializers.CharField()


class MeSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    email = serializers.EmailField()
    first_name = serializers.CharField()
    last_name = serializers.CharField()
    display_name = serializers.CharField()
    preferred_language = serializers.CharField()
    roles = serializers.SerializerMethodField()
    requires_mfa = serializers.BooleanField()
    memberships = serializers.SerializerMethodField()

    def get_roles(self, user) -> list[str]:
        return sorted(user.role_set())

    @extend_schema_field(MembershipSerializer(many=True))
    def get_memberships(self, user):
        memberships = user.memberships.filter(active=True).select_related("organization")
        return MembershipSerializer(memberships.order_by("organization__name", "role"), many=True).data


class TokenResponseSerializer(serializers.Serializer):
    token = serializers.CharField()
    user = MeSerializer()
