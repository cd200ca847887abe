"""Every read of case data, scoped to what the actor may see, and audited."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import models
from django.db.models import Count, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from konsil.accounts.models import organizations_of
from konsil.accounts.roles import Role
from konsil.audit.services import emit, emit_many
from konsil.core.errors import NotFound
from konsil.core.prepared import ID, MOMENT, Prepared

from . import relations as rel
from .choices import IN_WORK_STATUSES, OPEN_STATUSES, Status, Urgency
from .models import Attachment, Case, Message, Notification, StatusChange

CASE_RELATED = ("patient", "identity", "specialty", "assigned_specialist__user", "network")


def _own_branches(user, today=None) -> list[QuerySet]:
    cases = Case.objects.values_list("pk", flat=True).order_by()
    return [cases.filter(patient__user=user), cases.filter(requester=user),
            cases.filter(patient__in=_caregiver_patients(user, today))]


def _related_ids_query(*, user, now, today, specialist=None) -> QuerySet:
    """The ids of the cases `user` relates to other than as a coordinator, one indexed lookup per relation joined
    by UNION: own, cared-for, requested, break-glass, assigned, offered, signed, panel seat."""
    cases = Case.objects.values_list("pk", flat=True).order_by()
    branches = [
        *_own_branches(user, today),
        cases.filter(emergency_grants__user=user, emergency_grants__expires_at__gt=now),  # read only
    ]
    if specialist is not None:
        branches += [
            cases.filter(assigned_specialist=specialist),
            cases.filter(offers__specialist=specialist, offers__status="pending"),
            cases.filter(opinions__author=specialist, opinions__signed_at__isnull=False),
            cases.filter(panels__status="convened", panels__members__specialist=specialist),
        ]
    return branches[0].union(*branches[1:])


_MOMENTS = {"user": ID, "now": MOMENT, "today": models.DateField()}
_RELATED_IDS = Prepared(Case, _related_ids_query, **_MOMENTS)
_RELATED_IDS_OF_SPECIALIST = Prepared(Case, _related_ids_query, **_MOMENTS, specialist=ID)


def _related_ids(user) -> list:
    """The ids `_related_ids_query` finds for `user` (compiled once: the union of eight lookups costs more to
    compile than to run)."""
    values = {"user": user.pk, "now": timezone.now(), "today": timezone.localdate()}
    specialist = getattr(user, "specialist", None) if hasattr(user, "specialist") else None
    if specialist is None:
        return _RELATED_IDS(**values)
    return _RELATED_IDS_OF_SPECIALIST(**values, specialist=specialist.pk)


def _caregiver_patients(user, today=None):
    from .models import Patient

    return Patient.objects.filter(rel.active_caregiver_q(user, today=today)).values("pk")


def cases_for(user) -> QuerySet[Case]:
    """The cases whose clinical content `user` may read. Not audited: call `audit_list` for what is shown.

    An OR of every relation over joins (with DISTINCT) made the database scan the whole case table. Here the
    user's case ids (a UNION of indexed lookups) and coordinated networks are read first, so the list itself is
    an index lookup by id or by network (a bitmap OR), whatever filter and order the page adds."""
    if not user.is_authenticated:
        return Case.objects.none()
    visible = Q(pk__in=_related_ids(user))
    networks = list(user.organizations_for(Role.COORDINATOR).values_list("pk", flat=True))
    if networks:
        visible |= Q(network__in=networks)
    return Case.objects.filter(visible).select_related(*CASE_RELATED)


# What a case list shows (CaseSummarySerializer): no other column is read, so nothing else is decrypted.
SUMMARY_FIELDS = ("id", "reference", "status", "urgency", "channel", "specialty", "created_at", "submitted_at",
                  "updated_at", "patient", "identity", "patient__given_name", "patient__family_name",
                  "identity__given_name", "identity__family_name")


def for_summary(cases: QuerySet[Case]) -> QuerySet[Case]:
    """`cases` as a list shows them: the summary's columns only (each listed case decrypted about ten encrypted
    fields of its own, its patient's and its identity's, none of which a list shows)."""
    return cases.select_related(None).select_related("patient", "identity").only(*SUMMARY_FIELDS)


# What the coordinator's queue shows of a case: no name, birth date or clinical text of the case, its patient or
# its identity is read, so none is decrypted (minimum necessary; the page read ~17 encrypted fields per row).
QUEUE_FIELDS = ("id", "reference", "status", "urgency", "created_at", "submitted_at", "review_due_at",
                "escalated_at", "patient", "network", "specialty", "specialty__name", "identity", "identity__state",
                "identity__country", "assigned_specialist", "assigned_specialist__user",
                "assigned_specialist__user__first_name", "assigned_specialist__user__last_name",
                "assigned_specialist__user__email")


def for_queue(cases: QuerySet[Case]) -> QuerySet[Case]:
    """`cases` as the coordinator's queue and its alerts show them: `QUEUE_FIELDS` only."""
    return cases.select_related(None).select_related(
        "specialty", "identity", "assigned_specialist__user").only(*QUEUE_FIELDS)


# The queue's order: delivered cases stay open (someone closes them) but wait for nobody's review, so they come
# after every case still in work (a new submission is never buried under last year's delivered STAT cases); then
# STAT and urgent first, oldest submission first.
URGENCY_RANK = models.Case(models.When(urgency=Urgency.STAT, then=models.Value(0)),
                           models.When(urgency=Urgency.URGENT, then=models.Value(1)),
                           default=models.Value(2), output_field=models.IntegerField())
DELIVERED_LAST = models.Case(models.When(status=Status.DELIVERED, then=models.Value(1)), default=models.Value(0),
                             output_field=models.IntegerField())
QUEUE_PAGE = 50  # cases per page of the queue


def in_queue_order(cases: QuerySet[Case]) -> QuerySet[Case]:
    return cases.annotate(delivered_last=DELIVERED_LAST, urgency_rank=URGENCY_RANK).order_by(
        "delivered_last", "urgency_rank", models.F("submitted_at").asc(nulls_last=True), "created_at")


def _first_page(statuses) -> Prepared:
    return Prepared(Case, lambda user: for_queue(in_queue_order(coordinated_by(user).filter(
        status__in=statuses)))[:QUEUE_PAGE], user=ID)


# The queue as it opens (the cases in work, or all open ones), compiled once: every load of the queue reads it.
_FIRST_PAGES = {frozenset(statuses): _first_page(statuses) for statuses in (IN_WORK_STATUSES, OPEN_STATUSES)}


class QueueList:
    """The queue's unfiltered list of `statuses` for Paginator: its size is `total` (from the per-status counts the
    page shows anyway), its first page one prepared read, later pages `cases` through the ORM."""

    ordered = True

    def __init__(self, user, statuses, total: int, cases: QuerySet[Case]):
        self.user, self.first, self.total, self.cases = user, _FIRST_PAGES[frozenset(statuses)], total, cases

    def count(self) -> int:
        return self.total

    def __getitem__(self, index):
        if isinstance(index, slice) and not index.start and index.step is None and index.stop is not None and (
                index.stop <= QUEUE_PAGE):
            return self.first(user=self.user.pk)[:index.stop]
        return self.cases[index]


def coordinated_cases(user) -> QuerySet[Case]:
    """`cases_for(user)` narrowed to the networks `user` coordinates (the queue), read without the user's other
    relations: a coordinator sees every case of the network anyway, so their ids are not read."""
    if not user.is_authenticated:
        return Case.objects.none()
    return coordinated_by(user.pk).select_related(*CASE_RELATED)


def coordinated_by(user_id) -> QuerySet[Case]:
    """The cases of the networks the user with this key coordinates (a query built from the key alone, as a
    prepared read needs it)."""
    return Case.objects.filter(network__in=organizations_of(user_id, Role.COORDINATOR).values("pk"))


def own_cases_for(user) -> QuerySet[Case]:
    """The cases the user asked for: as patient, caregiver or referring clinician (a part of `cases_for`)."""
    if not user.is_authenticated:
        return Case.objects.none()
    branches = _own_branches(user)
    ids = list(branches[0].union(*branches[1:]))
    return Case.objects.filter(pk__in=ids).select_related(*CASE_RELATED)


def submitted_cases() -> QuerySet[Case]:
    """The cases that count anywhere a payer or employer looks: from their submission on (as in analytics). A
    draft is the patient's own until they submit it: no sponsor sees or counts it, whatever it becomes later (a
    draft withdrawn unsubmitted does not count either)."""
    return Case.objects.filter(submitted_at__isnull=False)


def sponsored_cases(sponsors) -> QuerySet[Case]:
    """The one definition of a sponsor's cases (program cases page, program dashboard, analytics): the submitted
    cases it funds (`Case.sponsor`; a self-pay case has none), cancelled and withdrawn ones included."""
    return submitted_cases().filter(sponsor__in=sponsors)


def program_cases(program) -> QuerySet[Case]:
    """`sponsored_cases` of one program: those enrolled in it."""
    return sponsored_cases([program.sponsor_id]).filter(enrollment__program=program)


def sponsored_cases_for(user) -> QuerySet[Case]:
    """Payer and employer admins: `sponsored_cases` of their organizations, for status and counts only."""
    orgs = user.organizations_for(Role.PAYER_ADMIN, Role.EMPLOYER_ADMIN).values("pk")
    return sponsored_cases(orgs).only(
        "id", "reference", "status", "channel", "urgency", "created_at", "submitted_at", "delivered_at",
        "sponsor", "patient",
    )


def audit_list(user, cases, *, action: str = "case.list") -> None:
    """Record that these cases were shown to `user` (one event per case)."""
    emit_many(
        actor=user,
        events=[
            {"action": action, "object_type": "cases.case", "object_id": str(c.pk),
             "patient_id": c.patient_id}
            for c in cases
        ],
    )


# The relations that let a user read a case: those `cases_for` reads ids for, and the coordinator's network.
VISIBLE = rel.CLINICAL_RELATIONS | {rel.EMERGENCY}


_CASE = Prepared(Case, lambda pk: Case.objects.select_related(*CASE_RELATED).filter(pk=pk), pk=ID)


def get_case(user, case_id, *, action: str = "case.read", audit: bool = True) -> Case:
    """One case the user may see, or NotFound (also for cases that exist but are not theirs). The same scope as
    `cases_for`, read as the user's relations to the case (one query, kept by a read request's memo for the
    page's own checks) rather than as the user's case ids."""
    try:
        case = _CASE.first(pk=case_id)
    except (ValueError, DjangoValidationError):
        case = None
    relations = rel.relations(user, case) if case is not None else set()
    if not relations & VISIBLE:
        emit(actor=user, action=action, object_type="cases.case", object_id=str(case_id)[:64],
             outcome="denied")
        raise NotFound(_("Case not found.")) from None
    if audit:
        role = rel.primary_relation(relations)
        emit(actor=user, action=action, obj=case, patient_id=case.patient_id, role=role,
             purpose="emergency" if role == rel.EMERGENCY else "treatment")
    return case


_QUEUE_COUNTS = Prepared(Case, lambda user: coordinated_by(user).order_by().values_list("status").annotate(
    n=Count("id")), user=ID)


def queue_counts(user) -> dict[str, int]:
    """Coordinator queue: cases per status in the user's networks (compiled once: every queue load reads it)."""
    return dict(_QUEUE_COUNTS(user=user.pk))


def _thread_query(case) -> QuerySet[Message]:
    return Message.objects.filter(case=case).select_related("author")


def _attachments_query(case) -> QuerySet[Attachment]:
    return Attachment.objects.filter(case=case, parent__isnull=True).select_related("uploaded_by")


def messages_for(user, case) -> QuerySet[Message]:
    """A case's thread; the caller already holds the case through `get_case`."""
    return _thread_query(case)


def attachments_for(user, case) -> QuerySet[Attachment]:
    """The records sent to a case (files inside an archive are listed under their archive)."""
    return _attachments_query(case)


# What the case page shows in full, compiled once (core.prepared) from the same builders as the querysets above.
_THREAD = Prepared(Message, _thread_query, case=ID)
_ATTACHMENTS = Prepared(Attachment, _attachments_query, case=ID)
_TIMELINE = Prepared(StatusChange, lambda case: StatusChange.objects.filter(case=case).select_related("actor"),
                     case=ID)


def thread_of(user, case) -> list[Message]:
    """`messages_for` as a list."""
    return _THREAD(case=case.pk, known={"case": case})


def attachment_list(user, case) -> list[Attachment]:
    """`attachments_for` as a list."""
    return _ATTACHMENTS(case=case.pk, known={"case": case})


def timeline_of(case) -> list[StatusChange]:
    """The case's status changes, oldest first, with who made them."""
    return _TIMELINE(case=case.pk, known={"case": case})


def notifications_for(user) -> QuerySet[Notification]:
    return Notification.objects.filter(user=user).select_related("case")
