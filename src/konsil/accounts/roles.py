"""Roles a user holds through memberships, and which of them must use MFA."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    PATIENT = "patient", _("Patient")
    CAREGIVER = "caregiver", _("Caregiver")
    REFERRING_CLINICIAN = "referring_clinician", _("Referring clinician")
    COORDINATOR = "coordinator", _("Care coordinator")
    SPECIALIST = "specialist", _("Specialist")
    PANEL_CHAIR = "panel_chair", _("Panel chair")
    PAYER_ADMIN = "payer_admin", _("Payer admin")
    EMPLOYER_ADMIN = "employer_admin", _("Employer admin")
    AUDITOR = "auditor", _("Auditor")
    ORG_ADMIN = "org_admin", _("Organization admin")


# Every clinical and administrative role signs in with a second factor (TOTP).
MFA_ROLES = frozenset(Role) - {Role.PATIENT, Role.CAREGIVER}
CLINICAL_ROLES = frozenset({Role.REFERRING_CLINICIAN, Role.COORDINATOR, Role.SPECIALIST, Role.PANEL_CHAIR})


class OrganizationKind(models.TextChoices):
    PROVIDER_NETWORK = "provider_network", _("Second-opinion provider network")
    HOSPITAL = "hospital", _("Hospital or clinic")
    DIAGNOSTIC_CENTER = "diagnostic_center", _("Diagnostic center")
    PAYER = "payer", _("Payer")
    EMPLOYER = "employer", _("Employer")
