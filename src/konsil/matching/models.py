"""Specialty catalog and specialist directory."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from konsil.core.models import BaseModel


class Specialty(models.Model):
    """A routing specialty or subspecialty, with its NUCC taxonomy code."""

    code = models.SlugField(primary_key=True, max_length=64)
    name = models.CharField(_("name"), max_length=120)
    nucc_code = models.CharField(_("NUCC taxonomy code"), max_length=10, blank=True)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="subspecialties"
    )

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "specialties"

    def __str__(self) -> str:
        return self.name


class Specialist(BaseModel):
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="specialist")
    network = models.ForeignKey(
        "accounts.Organization", on_delete=models.PROTECT, related_name="specialists"
    )
    npi = models.CharField(_("NPI"), max_length=10, unique=True)
    specialties = models.ManyToManyField(Specialty, related_name="specialists")
    languages = models.JSONField(_("languages"), default=list)  # ISO 639-1 codes
    institution = models.CharField(_("institution"), max_length=200, blank=True)
    capacity = models.PositiveSmallIntegerField(_("capacity (active cases)"), default=5)
    accepting = models.BooleanField(_("accepting new cases"), default=True)
    time_zone = models.CharField(_("time zone"), max_length=64, default="America/New_York")

    class Meta:
        ordering = ["user__last_name", "user__first_name"]

    def __str__(self) -> str:
        return self.user.display_name


class License(BaseModel):
    specialist = models.ForeignKey(Specialist, on_delete=models.CASCADE, related_name="licenses")
    state = models.CharField(_("state"), max_length=2)
    number = models.CharField(_("license number"), max_length=40)
    expires_on = models.DateField(_("expires on"))

    class Meta:
        constraints = [models.UniqueConstraint(fields=["specialist", "state"], name="one_license_per_state")]
