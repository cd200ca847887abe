"""Demo data for consults and outcomes: a past consult with notes on each delivered or closed demo case, a no-show,
30-day follow-ups (one answered by patient and physician, one left without a response) and a small cost table.
Called from konsil.demo (idempotent)."""

from __future__ import annotations

import datetime as dt
import json

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_noop

from konsil.cases.choices import Status
from konsil.cases.models import Case
from konsil.consults.models import Consult, ConsultEvent, ConsultNote, ConsultStatus, EventKind

from . import questionnaires, services
from .models import CostEntry, FollowUp, FollowUpStatus, Respondent

# data, not interface text: marked for the catalogue so that pages show it in the reader's language (|vocab)
DEMO_SOURCE = gettext_noop(
    "Demo figure: replace it with a published price (CMS Physician Fee Schedule, a price transparency file)")
DEMO_COSTS = (("27447", "Total knee arthroplasty", "28000"), ("92928", "Coronary stent placement", "16000"),
              ("61510", "Craniotomy for tumour removal", "52000"), ("19303", "Mastectomy", "21000"),
              ("97110", "Physical therapy, therapeutic exercise", "120"))
ANSWERS = {
    Respondent.PATIENT: {"followed": "yes", "diagnosis_changed": "no", "plan_changed": "yes",
                         "procedure": "avoided", "status": "better", "nps": "9",
                         "comment": "Physical therapy first helped a lot."},
    Respondent.PHYSICIAN: {"followed": "yes", "diagnosis_changed": "no", "plan_changed": "yes",
                           "procedure": "avoided", "status": "better"},
}


def seed_consults_and_outcomes(summary=None) -> None:
    for code, description, amount in DEMO_COSTS:
        _entry, created = CostEntry.objects.get_or_create(
            code=code, year=2025, currency="USD", defaults={
                "description": description, "amount": amount, "source": DEMO_SOURCE,
                "source_url": "https://www.cms.gov/medicare/physician-fee-schedule/search"})
        _count(summary, "cost entries", created)
    cases = Case.objects.filter(status__in=[Status.DELIVERED, Status.CLOSED], assigned_specialist__isnull=False,
                                reference__startswith="K-DEMO").order_by("reference").select_related(
        "assigned_specialist__user", "patient__user", "identity")
    for index, case in enumerate(cases):
        if case.consults.exists() or case.follow_ups.exists():
            continue
        delivered = timezone.now() - dt.timedelta(days=45 + 10 * index)
        backdate(case, case.delivered_at - delivered)  # demo history: the whole story happened weeks ago
        case.refresh_from_db()
        _past_consult(case, delivered, no_show=index % 2 == 1)
        _count(summary, "consults", True)
        services.plan(case)
        _follow_ups(case, answer=index % 2 == 0)
        _count(summary, "follow-ups", True)


# Dates that do not move with the story: when a row last changed (the analytics clock reads it) and deadlines that
# still run from today (a share link's expiry, a locked share, a retry).
NOT_MOVED = ("updated_at", "locked_until", "next_attempt_at")


def backdate(case, delta: dt.timedelta) -> None:
    """Moves a demo case's story `delta` into the past: the case's own dates and those of every row about it
    (timeline, offers, triage, consent, records, the opinion), so that it reads in order, submitted before
    delivered. The audit trail keeps the moments the seed ran: it is append-only."""

    def moved(model, rows) -> None:
        names = [f.name for f in model._meta.concrete_fields if isinstance(f, models.DateTimeField)
                 and f.name not in NOT_MOVED and "expires" not in f.name]
        if names:
            rows.update(**{name: models.F(name) - delta for name in names})

    moved(Case, Case.objects.filter(pk=case.pk))
    for relation in Case._meta.related_objects:
        if relation.one_to_many or relation.one_to_one:
            model = relation.related_model
            moved(model, model._base_manager.filter(**{relation.field.name: case}))


def _past_consult(case, delivered, *, no_show: bool) -> None:
    specialist = case.assigned_specialist
    start = (delivered + dt.timedelta(days=4)).replace(minute=0, second=0, microsecond=0)
    consult = Consult.objects.create(
        case=case, specialist=specialist, booked_by=case.patient.user or case.requester, mode="video",
        starts_at=start, ends_at=start + dt.timedelta(minutes=30), patient_time_zone="America/Los_Angeles",
        video_engine="embedded", invite_treating_physician=bool(case.treating_physician_email),
        status=ConsultStatus.NO_SHOW if no_show else ConsultStatus.COMPLETED,
        no_show_party="patient" if no_show else "", held_at=None if no_show else start,
        recorded_by=specialist.user)
    if not no_show:
        ConsultNote.objects.create(consult=consult, case=case, author=specialist.user, body=(
            "Went through the report with the patient and their physician. Agreed to start with physical therapy "
            "and review in three months; surgery stays an option if symptoms do not improve."))
    _timeline(consult, [(EventKind.BOOKED, delivered + dt.timedelta(days=1), consult.booked_by, "patient", ""),
                        (EventKind.NO_SHOW, start + dt.timedelta(minutes=20), specialist.user, "specialist",
                         "patient") if no_show else
                        (EventKind.HELD, start + dt.timedelta(minutes=30), specialist.user, "specialist", "")]
              + ([] if no_show else [(EventKind.NOTE, start + dt.timedelta(minutes=35), specialist.user,
                                      "specialist", "")]))


def _timeline(consult, steps) -> None:
    """The consult's steps on the case timeline, at the times they would have happened."""
    for kind, at, actor, role, party in steps:
        event = ConsultEvent.objects.create(consult=consult, case=consult.case, kind=kind, actor=actor, role=role,
                                            mode=consult.mode, starts_at=consult.starts_at, party=party)
        ConsultEvent.objects.filter(pk=event.pk).update(created_at=at)


def _follow_ups(case, *, answer: bool) -> None:
    for follow_up in FollowUp.objects.filter(case=case, day=30):
        sent = case.delivered_at + dt.timedelta(days=30)
        follow_up.sent_at, follow_up.expires_at = sent, sent + dt.timedelta(days=21)
        if answer:
            values, _errors = questionnaires.clean(follow_up.respondent, ANSWERS[follow_up.respondent])
            follow_up.response = json.dumps(questionnaires.response(
                follow_up.respondent, values, case_reference=case.reference, language=follow_up.language))
            follow_up.status, follow_up.answered_at, follow_up.answered_via = (
                FollowUpStatus.ANSWERED, sent + dt.timedelta(days=2), "link")
        elif follow_up.expires_at < timezone.now():
            follow_up.status, follow_up.closed_at = FollowUpStatus.NO_RESPONSE, follow_up.expires_at
        else:
            follow_up.status = FollowUpStatus.SENT
        follow_up.save()
    services.rebuild_outcome(case)


def _count(summary, kind: str, created: bool) -> None:
    if summary is not None:
        summary.count(kind, created)
