"""Users, organizations and memberships (roles)."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractUser, UserManager
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_otp.models import Device

from konsil.core.fields import BlindIndexField, EncryptedCharField, with_indexes
from konsil.core.models import BaseModel
from konsil.core.prepared import ID, Prepared

from .roles import MFA_ROLES, OrganizationKind, Role


class KonsilUserManager(UserManager):
    def create_user(self, email, password=None, **extra):
        extra.setdefault("username", email)
        return super().create_user(extra.pop("username"), email, password, **extra)

    def create_superuser(self, email, password=None, **extra):
        extra.setdefault("username", email)
        return super().create_superuser(extra.pop("username"), email, password, **extra)


class User(AbstractUser):
    """A person who signs in with their email address."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    email = models.EmailField(_("email"), unique=True)
    # Names are encrypted at rest (patients sign in too); found by whole words through a keyed hash of each word.
    first_name = EncryptedCharField(_("first name"), plain_max_length=150, blank=True)
    last_name = EncryptedCharField(_("last name"), plain_max_length=150, blank=True)
    name_index = BlindIndexField(of=("first_name", "last_name"), tokens=True)
    preferred_language = models.CharField(_("preferred language"), max_length=8, default="en")
    # Bumped by "sign out everywhere", a password change and an MFA reset: every session signed before ends.
    session_epoch = models.PositiveIntegerField(default=0, editable=False)

    USERNAME_FIELD = "email"
    REQUIRED_FIELDS = ["username"]
    objects = KonsilUserManager()

    def save(self, *args, **kwargs):
        kwargs["update_fields"] = with_indexes(type(self), kwargs.get("update_fields"))
        super().save(*args, **kwargs)

    @classmethod
    def matching_name(cls, text: str) -> models.Q:
        """Users whose first or last name holds every word of `text` (whole words, any case)."""
        field, q = cls._meta.get_field("name_index"), models.Q()
        for word in text.split()[:5]:
            q &= field.matches(word)
        return q

    @property
    def display_name(self) -> str:
        return self.get_full_name() or self.email

    def role_set(self) -> set[str]:
        """The roles this user holds in any organization (cached per instance)."""
        if not hasattr(self, "_role_cache"):
            self._role_cache = set(_ROLES_OF(user=self.pk))
        return self._role_cache

    def has_role(self, *roles: str) -> bool:
        return bool(self.role_set() & set(roles))

    def organizations_for(self, *roles: str):
        """Organizations where the user holds one of `roles`."""
        return organizations_of(self, *roles)

    def get_session_auth_hash(self):
        """Sessions carry this hash: it changes with the password and with `session_epoch`."""
        return super().get_session_auth_hash() + (f".{self.session_epoch}" if self.session_epoch else "")

    @property
    def requires_mfa(self) -> bool:
        return self.is_staff or self.is_superuser or bool(self.role_set() & MFA_ROLES)


def organizations_of(user, *roles: str):
    """Organizations where `user` (a user or the key of one) holds one of `roles`."""
    return Organization.objects.filter(
        memberships__user=user, memberships__role__in=roles, memberships__active=True
    ).distinct()


class Organization(BaseModel):
    name = models.CharField(_("name"), max_length=200)
    kind = models.CharField(_("kind"), max_length=32, choices=OrganizationKind.choices)
    slug = models.SlugField(_("slug"), max_length=80, unique=True)
    state = models.CharField(_("state"), max_length=2, blank=True)
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Membership(BaseModel):
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(_("role"), max_length=32, choices=Role.choices)
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "organization", "role"], name="unique_membership_role")
        ]

    def __str__(self) -> str:
        return f"{self.user} · {self.get_role_display()} · {self.organization}"


class TokenScope(models.TextChoices):
    READ = "read", _("Read")
    WRITE = "write", _("Read and write")


def _hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


class ApiTokenQuerySet(models.QuerySet):
    def live(self):
        return self.filter(revoked_at__isnull=True, expires_at__gt=timezone.now())


class ApiToken(BaseModel):
    """An API token: only its SHA-256 is stored; it expires, carries scopes, and its owner may revoke it.

    The secret is shown once, when issued: "ks_<prefix>_<secret>"; the prefix names it in lists."""

    PREFIX = "ks_"

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(_("name"), max_length=100, blank=True)
    prefix = models.CharField(max_length=12, db_index=True, editable=False)
    digest = models.CharField(max_length=64, unique=True, editable=False)
    scopes = models.JSONField(default=list)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_reason = models.CharField(max_length=32, blank=True)

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.PREFIX}{self.prefix}… ({self.user})"

    @classmethod
    def issue(cls, *, user, name: str = "", scopes=None, days: int | None = None) -> tuple[ApiToken, str]:
        """A new token and its secret (the only time the secret exists outside the client)."""
        days = days or settings.KONSIL_API_TOKEN_DAYS
        prefix = secrets.token_hex(4)
        raw = f"{cls.PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
        token = cls.objects.create(user=user, name=name[:100], prefix=prefix, digest=_hash_token(raw),
                                   scopes=sorted(set(scopes or [TokenScope.READ, TokenScope.WRITE])),
                                   expires_at=timezone.now() + timedelta(days=days))
        return token, raw

    @classmethod
    def find(cls, raw: str) -> ApiToken | None:
        if not raw.startswith(cls.PREFIX) or len(raw) > 200:
            return None
        return _TOKEN_BY_DIGEST.first(digest=_hash_token(raw))

    @property
    def is_live(self) -> bool:
        return self.revoked_at is None and self.expires_at > timezone.now()

    def allows(self, method: str) -> bool:
        return method in ("GET", "HEAD", "OPTIONS") or TokenScope.WRITE in self.scopes


class RecoveryCode(BaseModel):
    """A one-time code for signing in without the authenticator app; only its hash is stored."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="recovery_codes")
    digest = models.CharField(max_length=64, unique=True)
    used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"recovery code of {self.user}"


class Passkey(Device):
    """A WebAuthn credential (a passkey or security key): a second factor, or a passwordless sign-in on its own
    when the authenticator verified the person (accounts.passkeys). Only the public key is stored."""

    credential_id = models.CharField(max_length=1400, unique=True)  # base64url, as the browser names it
    public_key = models.BinaryField()
    sign_count = models.PositiveBigIntegerField(default=0)
    transports = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at"]

    def verify_token(self, token) -> bool:
        return False  # not a code device: verified by accounts.passkeys, then django_otp.login()


# The reads every signed-in request makes, compiled once (core.prepared).
_TOKEN_BY_DIGEST = Prepared(ApiToken, lambda digest: ApiToken.objects.select_related("user").filter(
    digest=digest).order_by("pk")[:1], digest=models.CharField())
_ROLES_OF = Prepared(Membership, lambda user: Membership.objects.filter(user=user, active=True).values_list(
    "role", flat=True), user=ID)
