"""Who signs a case's HIPAA authorization, and as what: the relationships each signer may record.

The patient signs as themself; a caregiver or other person on the patient's side as parent, guardian,
personal representative or other, never as the patient; the clinician who referred the patient records the
referral for treatment with the patient's agreement (a disclosure HIPAA permits, 45 CFR 164.506(c)).
"""

from __future__ import annotations

from django.utils.translation import gettext as _

from konsil.accounts.roles import Role

from . import lifecycle
from . import relations as rel
from .choices import SignerRelationship as Relationship

PATIENT, CLINICIAN, REPRESENTATIVE = "patient", "clinician", "representative"
# The roles that refer a patient through the clinician channel (services._requester_defaults).
REFERRER_ROLES = (Role.REFERRING_CLINICIAN, Role.COORDINATOR)
ALLOWED = {
    PATIENT: (Relationship.SELF,),
    CLINICIAN: (Relationship.TREATING_CLINICIAN,),
    REPRESENTATIVE: (Relationship.PARENT, Relationship.GUARDIAN, Relationship.REPRESENTATIVE, Relationship.OTHER),
}


def signer_kind(user, relations: set[str]) -> str:
    """PATIENT, CLINICIAN (the case's referring clinician), REPRESENTATIVE (anyone else on the patient's side),
    or "" for a user who is not on the patient's side."""
    if rel.PATIENT in relations:
        return PATIENT
    if rel.REQUESTER in relations and rel.CAREGIVER not in relations and user.has_role(*REFERRER_ROLES):
        return CLINICIAN
    return REPRESENTATIVE if relations & lifecycle.REQUEST_SIDE else ""


def default_relationship(kind: str) -> str:
    """The relationship preselected for a signer: their only one, or none where they must choose."""
    allowed = ALLOWED.get(kind, ())
    return allowed[0] if len(allowed) == 1 else ""


def checked_relationship(kind: str, value) -> tuple[str, str | None]:
    """The relationship to record for a signer of `kind` (blank: their default), and why it is refused (None when
    it stands)."""
    value = str(value or "").strip() or default_relationship(kind)
    if value in ALLOWED.get(kind, ()):
        return value, None
    if value and value not in Relationship.values:
        return value, _("Choose a relationship from the list.")
    refusals = {
        PATIENT: _("You are the patient: sign as yourself."),
        CLINICIAN: _("As the referring clinician, sign as the treating clinician who refers the patient."),
    }
    return value, refusals.get(kind) or _(
        "Choose how you are related to the patient: parent, legal guardian, personal representative or other.")
