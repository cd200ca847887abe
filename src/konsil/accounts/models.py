"""Users, organizations and memberships (roles)."""

from __future__ import annotations

import uuid

from django.contrib.auth.models import AbstractUser, UserManager
from django.db import models
from django.utils.translation import gettext_lazy as _

from konsil.core.models import BaseModel

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
    preferred_language = models.CharField(_("preferred language"), max_length=8, default="en")

    USERNAME_FIELD = "email"
    REQUIRED_FIELDS = ["username"]
    objects = KonsilUserManager()

    @property
    def display_name(self) -> str:
        return self.get_full_name() or self.email

    def role_set(self) -> set[str]:
        """The roles this user holds in any organization (cached per instance)."""
        if not hasattr(self, "_role_cache"):
            self._role_cache = set(self.memberships.filter(active=True).values_list("role", flat=True))
        return self._role_cache

    def has_role(self, *roles: str) -> bool:
        return bool(self.role_set() & set(roles))

    def organizations_for(self, *roles: str):
        """Organizations where the user holds one of `roles`."""
        return Organization.objects.filter(
            memberships__user=self, memberships__role__in=roles, memberships__active=True
        ).distinct()

    @property
    def requires_mfa(self) -> bool:
        return self.is_staff or self.is_superuser or bool(self.role_set() & MFA_ROLES)


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
