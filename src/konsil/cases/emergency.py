"""Break-glass emergency access: a clinician of the case's network reads a case they are not on, for a limited
time, after giving a reason. The grant is audited (purpose "emergency"), the network's coordinators and auditors are
alerted, and the patient sees it in their access log. A grant reads; it writes nothing (no rule names it)."""

from __future__ import annotations

import datetime as dt
import hmac

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from konsil.accounts.models import User
from konsil.accounts.roles import Role
from konsil.audit.services import emit
from konsil.core import authz
from konsil.core.errors import NotFound, ValidationFailed
from konsil.core.fields import keyed_hash
from konsil.core.keyproviders import provider

from .models import Case, EmergencyAccess
from .notify import notify_users

GRANT_MINUTES = 60
REASON_MIN = 20
REASON_MAX = 1000
ACTION = "case.break_glass"


def find_case(user, case_id) -> Case:
    """The case by id, unscoped (the caller is not on it yet); NotFound when there is none (audited)."""
    try:
        return Case.objects.select_related("network", "patient").get(pk=case_id)
    except (Case.DoesNotExist, ValueError, DjangoValidationError):
        emit(actor=user, action=ACTION, object_type="cases.case", object_id=str(case_id)[:64], outcome="denied",
             purpose="emergency")
        raise NotFound(_("Case not found.")) from None


def active_grant(user, case) -> EmergencyAccess | None:
    return case.emergency_grants.filter(user=user, expires_at__gt=timezone.now()).first()


def check_allowed(actor, case: Case) -> None:
    """NotFound (audited as denied) unless `actor` is a clinician of the case's network: to anyone else a case
    they may not open in an emergency looks exactly like a case that does not exist."""
    if not authz.can("case.break_glass", actor, case):
        emit(actor=actor, action=ACTION, obj=case, patient_id=case.patient_id, purpose="emergency",
             outcome="denied")
        raise NotFound(_("Case not found."))


def offer(user, case_id) -> str:
    """The emergency-access address for a case `user` cannot see, when they may break the glass; "" otherwise
    (nothing then tells whether the case exists). Reads only; the page that shows it is already audited."""
    from django.urls import reverse

    if not getattr(user, "is_authenticated", False):
        return ""
    case = Case.objects.filter(pk=case_id).only("pk", "network_id").first()
    if case is None or not authz.can("case.break_glass", user, case):
        return ""
    return reverse("cases:break_glass", args=[case.pk])


def break_glass(*, actor, case: Case, reason: str, minutes: int = GRANT_MINUTES) -> EmergencyAccess:
    """Grant `actor` read access to `case` for `minutes`; refusals are audited as denied."""
    reason = (reason or "").strip()
    check_allowed(actor, case)
    if len(reason) < REASON_MIN:
        raise ValidationFailed(
            _("Give the reason for emergency access in at least %(n)d characters.") % {"n": REASON_MIN},
            field="reason")
    if len(reason) > REASON_MAX or "\x00" in reason:
        raise ValidationFailed(
            _("The reason must be at most %(n)d characters of plain text.") % {"n": REASON_MAX}, field="reason")
    with transaction.atomic():
        grant = EmergencyAccess.objects.create(
            case=case, user=actor, reason=reason, expires_at=timezone.now() + dt.timedelta(minutes=minutes))
        # The reason is free text (often clinical): it stays encrypted on the grant, never in the trail, which is
        # kept in clear and exported to syslog/SIEM. The trail seals it by a keyed hash instead, so a reason
        # changed on the grant afterwards no longer matches its event (reason_matches).
        emit(actor=actor, action=ACTION, obj=case, patient_id=case.patient_id, role="emergency_access",
             purpose="emergency",
             detail={"grant": str(grant.pk), "reason_hash": reason_hash(reason), "reason_chars": len(reason),
                     "expires_at": grant.expires_at.isoformat(), "minutes": minutes})
        notify_users(case, "break_glass", alert_recipients(case, exclude=actor))
    return grant


REASON_LABEL = "cases.emergencyaccess.reason"


def reason_hash(reason: str, key_id: str | None = None) -> str:
    """`<key id>:<keyed hash>` of a break-glass reason (the blind-index key: no clear text in the audit trail)."""
    key_id = key_id or provider().current_key_id()
    return f"{key_id}:{keyed_hash(reason, label=REASON_LABEL, key_id=key_id)}"


def reason_matches(grant: EmergencyAccess, sealed: str) -> bool:
    """Whether the grant's reason is still the one its audit event sealed."""
    key_id, _sep, _digest = str(sealed).partition(":")
    try:
        return hmac.compare_digest(reason_hash(grant.reason, key_id), str(sealed))
    except Exception:  # a key no longer configured: it cannot be checked, so it does not match
        return False


def alert_recipients(case: Case, *, exclude=None) -> list[User]:
    """The network's coordinators and auditors."""
    users = User.objects.filter(memberships__organization_id=case.network_id,
                                memberships__role__in=[Role.COORDINATOR, Role.AUDITOR],
                                memberships__active=True, is_active=True).distinct()
    return [u for u in users if exclude is None or u.pk != exclude.pk]
