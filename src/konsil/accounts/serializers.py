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
    name = serializers.CharField(max_length=100, required=False, allow_blank=True,
                                 help_text=_("A name to recognise the token by in your list."))
    scopes = serializers.ListField(child=serializers.ChoiceField(choices=["read", "write"]), required=False,
                                   min_length=1, max_length=2, help_text=_("Default: read and write."))
    expires_in_days = serializers.IntegerField(required=False, min_value=1, max_value=3650,
                                               help_text=_("Default 30 days; at most the configured maximum."))

    def validate_expires_in_days(self, value):
        from django.conf import settings

        if value > settings.KONSIL_API_TOKEN_MAX_DAYS:
            raise serializers.ValidationError(_("At most %(n)d days.") % {"n": settings.KONSIL_API_TOKEN_MAX_DAYS})
        return value


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
    token = serializers.CharField(help_text=_("Shown once: only its hash is stored."))
    expires_at = serializers.DateTimeField()
    scopes = serializers.ListField(child=serializers.CharField())
    user = MeSerializer()


class ApiTokenSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    prefix = serializers.SerializerMethodField()
    scopes = serializers.ListField(child=serializers.CharField())
    created_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField()
    last_used_at = serializers.DateTimeField(allow_null=True)
    revoked_at = serializers.DateTimeField(allow_null=True)
    live = serializers.BooleanField(source="is_live")

    def get_prefix(self, token) -> str:
        return f"ks_{token.prefix}…"
