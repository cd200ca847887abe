"""In-app notifications and email (through Django's mail backends). Emails carry no clinical content: a subject
that says what happened to which case (its reference only) and a link to the page where the reader acts."""

from __future__ import annotations

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _

from konsil.accounts.models import User
from konsil.accounts.roles import Role

from . import relations as rel
from .models import Notification

# Keyed by the lifecycle action (or event); rendered in the reader's language.
TEXTS = {
    "submit": _("Case %(ref)s was submitted."),
    "triage": _("Case %(ref)s was triaged and is being matched to a specialist."),
    "offer": _("You have been offered case %(ref)s."),
    "accept": _("A specialist accepted case %(ref)s."),
    "decline": _("A specialist declined case %(ref)s; it needs another match."),
    "start_review": _("A specialist started reviewing case %(ref)s."),
    "request_info": _("The specialist needs more information on case %(ref)s."),
    "provide_info": _("New information was provided on case %(ref)s."),
    "sign": _("The opinion on case %(ref)s was signed."),
    "deliver": _("The second opinion on case %(ref)s is ready to read."),
    "close": _("Case %(ref)s was closed."),
    "amend": _("The opinion on case %(ref)s was amended."),
    "cancel": _("Case %(ref)s was cancelled."),
    "withdraw": _("Case %(ref)s was withdrawn."),
    "message": _("New message on case %(ref)s."),
    "triage_alert": _("Case %(ref)s needs a coordinator's attention."),
    "red_flag": _("Red flag: case %(ref)s may need urgent attention."),
    "records_request": _("More records are needed for case %(ref)s."),
    "records_overdue": _("Records requested for case %(ref)s are overdue."),
    "panel_invite": _("You have been invited to the panel on case %(ref)s."),
    "panel_dissent": _("A panel member dissented from the consensus on case %(ref)s."),
    "panel_dissolved": _("The panel on case %(ref)s was dissolved: your seat on it has ended."),
    "license_expiring": _("A license or board certification expires within 30 days: check the specialist directory."),
    "expire_offer": _("Your offer of case %(ref)s timed out and was withdrawn."),
    "escalated": _("No specialist accepted case %(ref)s: a coordinator needs to match it."),
    "retriage": _("Case %(ref)s was moved to another specialty; your offer of it was withdrawn."),
    "routing_needed": _("Case %(ref)s could not be routed automatically: a coordinator needs to match it."),
    "sla_reminder": _("The review of case %(ref)s is due soon."),
    "sla_breach": _("The review of case %(ref)s is past its deadline."),
    "triage_questions": _("A few short questions about case %(ref)s will help find the right specialist."),
    "break_glass": _("Emergency access: a clinician opened case %(ref)s with a reason; review it in the audit trail."),
    "record_identity": _("A record on case %(ref)s may belong to another person: please check it."),
    "remote_document_failed": _("A document the referring system named for case %(ref)s could not be fetched."),
    "network_transfer": _("Case %(ref)s was referred to another provider network of the organization."),
}

# E-mail subjects by kind: what happened and the case reference, never a name, diagnosis or specialty.
SUBJECTS = {
    "submit": _("Konsil: case %(ref)s was submitted"),
    "triage": _("Konsil: case %(ref)s is being matched to a specialist"),
    "offer": _("Konsil: you have been offered case %(ref)s"),
    "accept": _("Konsil: a specialist accepted case %(ref)s"),
    "decline": _("Konsil: case %(ref)s needs another match"),
    "start_review": _("Konsil: the review of case %(ref)s has started"),
    "request_info": _("Konsil: more information needed on %(ref)s"),
    "provide_info": _("Konsil: new information on %(ref)s"),
    "sign": _("Konsil: the opinion on %(ref)s was signed"),
    "deliver": _("Konsil: the second opinion on %(ref)s is ready"),
    "close": _("Konsil: case %(ref)s was closed"),
    "amend": _("Konsil: the opinion on %(ref)s was amended"),
    "cancel": _("Konsil: case %(ref)s was cancelled"),
    "withdraw": _("Konsil: case %(ref)s was withdrawn"),
    "message": _("Konsil: new message on %(ref)s"),
    "triage_alert": _("Konsil: case %(ref)s needs a coordinator"),
    "red_flag": _("Konsil: case %(ref)s may be urgent"),
    "records_request": _("Konsil: more records needed for %(ref)s"),
    "records_overdue": _("Konsil: records for %(ref)s are overdue"),
    "panel_invite": _("Konsil: you are invited to the panel on %(ref)s"),
    "panel_dissolved": _("Konsil: the panel on %(ref)s was dissolved"),
    "expire_offer": _("Konsil: your offer of case %(ref)s timed out"),
    "escalated": _("Konsil: case %(ref)s needs a coordinator"),
    "routing_needed": _("Konsil: case %(ref)s needs a coordinator"),
    "sla_reminder": _("Konsil: the review of %(ref)s is due soon"),
    "sla_breach": _("Konsil: the review of %(ref)s is overdue"),
    "triage_questions": _("Konsil: a few questions about %(ref)s"),
    "break_glass": _("Konsil: emergency access to case %(ref)s"),
    "record_identity": _("Konsil: please check a record on %(ref)s"),
}
GENERIC_SUBJECT = _("Konsil: update on case %(ref)s")  # the rarer kinds


def text_for(kind: str, reference: str) -> str:
    template = TEXTS.get(kind, TEXTS["message"])
    return str(template) % {"ref": reference}


def subject_for(kind: str, reference: str) -> str:
    return str(SUBJECTS.get(kind, GENERIC_SUBJECT)) % {"ref": reference}


NO_PAGE = frozenset({"panel_dissolved"})  # the reader no longer sees the case: no link to a page they cannot open


def path_for(kind: str, case_id) -> str | None:
    """Where a notification of `kind` takes its reader (the page where they act; ids only, never PHI): the panel
    page, the clarifying questions or the case page; None when it is not about one case."""
    if case_id is None or kind in NO_PAGE:
        return None
    if kind.startswith("panel_"):
        return reverse("opinions:panel", kwargs={"pk": case_id})
    if kind == "triage_questions":
        return reverse("triage:questions", kwargs={"pk": case_id})
    return reverse("cases:detail", kwargs={"pk": case_id})


def recipients(case, relations: frozenset[str] | set[str], *, exclude=None) -> list[User]:
    """Users holding any of `relations` to `case`."""
    users: dict = {}
    if rel.PATIENT in relations and case.patient.user_id:
        users[case.patient.user_id] = case.patient.user
    if rel.REQUESTER in relations:
        users[case.requester_id] = case.requester
    if rel.CAREGIVER in relations:
        # Only authorizations in force: not revoked and not expired (as relations.active_caregiver_q).
        in_force = case.patient.caregiver_authorizations.filter(revoked_at__isnull=True).filter(
            Q(expires_on__isnull=True) | Q(expires_on__gte=timezone.localdate()))
        for auth in in_force.select_related("caregiver"):
            users[auth.caregiver_id] = auth.caregiver
    if rel.COORDINATOR in relations:
        for user in User.objects.filter(memberships__organization=case.network,
                                        memberships__role=Role.COORDINATOR, memberships__active=True):
            users[user.pk] = user
    if rel.SPECIALIST in relations and case.assigned_specialist_id:
        users[case.assigned_specialist.user_id] = case.assigned_specialist.user
    if rel.OFFERED in relations:
        for offer in case.offers.filter(status="pending").select_related("specialist__user"):
            users[offer.specialist.user_id] = offer.specialist.user
    if exclude is not None:
        users.pop(exclude.pk, None)
    return [u for u in users.values() if u.is_active]


def notify(case, kind: str, relations, *, actor=None) -> int:
    """Create in-app notifications and send emails after the transaction commits."""
    return notify_users(case, kind, recipients(case, relations, exclude=actor))


def notify_users(case, kind: str, users) -> int:
    """The same for users no case relation names (panel members, say). Emails carry no clinical content."""
    users = [u for u in users if u.is_active]
    Notification.objects.bulk_create([Notification(user=u, case=case, kind=kind) for u in users])
    emails = [(u.email, u.preferred_language) for u in users if u.email]
    if emails:
        transaction.on_commit(lambda: _send(case.reference, kind, emails, path=path_for(kind, case.pk)))
    return len(users)


def _send(reference: str, kind: str, emails: list[tuple[str, str]], *, path: str | None = None) -> None:
    link = settings.KONSIL_SITE_URL.rstrip("/") + path if path else settings.KONSIL_SITE_URL
    for address, language in emails:
        with translation.override(language or settings.LANGUAGE_CODE):
            details = _("Sign in to Konsil to see the details:")  # outside an f-string, where gettext finds it
            body = "\n\n".join([text_for(kind, reference), f"{details}\n{link}"])
            send_mail(subject_for(kind, reference), body, None, [address], fail_silently=True)
