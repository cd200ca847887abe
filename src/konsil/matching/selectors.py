"""Reads of the specialist directory, who may receive a case, and batch-assignment proposals."""

from __future__ import annotations

import unicodedata

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Count, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from . import licensure
from .models import AssignmentRun, BatchProposal, Specialist, Specialty

ACTIVE_CASE_STATUSES = ("accepted", "in_review", "info_requested", "opinion_drafted", "signed")


def specialties() -> QuerySet[Specialty]:
    return Specialty.objects.select_related("parent")


def _with_load(qs: QuerySet[Specialist]) -> QuerySet[Specialist]:
    return qs.select_related("user").prefetch_related("specialties", "subspecialties", "licenses").annotate(
        active_cases=Count("cases", filter=Q(cases__status__in=ACTIVE_CASE_STATUSES), distinct=True),
        # a pending offer holds a slot: otherwise two offers to a specialist with one slot could both be accepted
        pending_offers=Count("offers", filter=Q(offers__status="pending"), distinct=True),
    )


def _practises(code: str, *, fallback: bool = False) -> Q:
    """Specialists who may take a case of `code` (scoring.may_take: the catalog's hierarchy)."""
    from .scoring import may_take

    codes = may_take(code, fallback=fallback)
    return Q(specialties__code__in=codes) | Q(subspecialties__code__in=codes)


def directory(*, network=None, specialty: str | None = None, state: str | None = None,
              language: str | None = None) -> QuerySet[Specialist]:
    """Specialists filtered by specialty (its subspecialties included), valid license in `state`, language."""
    qs = _with_load(Specialist.objects.all())
    if network is not None:
        qs = qs.filter(network=network)
    if specialty:
        qs = qs.filter(_practises(specialty))
    if state:
        qs = qs.filter(licenses__state=state, licenses__country="US", licenses__expires_on__gte=timezone.localdate())
    if language:
        # JSON containment is not portable to SQLite; languages lists are short, so filter by id.
        ids = [s.pk for s in Specialist.objects.only("id", "languages") if language in (s.languages or [])]
        qs = qs.filter(pk__in=ids)
    return qs.distinct()


def _fold(name: str | None) -> str:
    """A name as it sorts: accents set aside, any case ("Álvarez" beside "alvarez")."""
    text = unicodedata.normalize("NFKD", name or "")
    return "".join(c for c in text if not unicodedata.combining(c)).casefold().strip()


def ids_by_name(qs: QuerySet[Specialist]) -> list:
    """The ids of `qs` in alphabetical order of last name, then first name (then id, for a stable order).

    Names are encrypted at rest, so the database cannot order them: they are decrypted and sorted here. A network's
    directory is bounded (hundreds to a few thousand people), and only ids and names are read."""
    rows = (Specialist.objects.order_by().filter(pk__in=qs.order_by().values("pk"))
            .values_list("pk", "user__first_name", "user__last_name"))
    return [pk for pk, _first, _last in sorted(rows, key=lambda r: (_fold(r[2]), _fold(r[1]), str(r[0])))]


def in_name_order(qs: QuerySet[Specialist], ids: list) -> list[Specialist]:
    """The specialists of `qs` whose ids are `ids`, in that order."""
    found = {s.pk: s for s in qs.order_by().filter(pk__in=ids)}
    return [found[pk] for pk in ids if pk in found]


def by_name(qs: QuerySet[Specialist], *, limit: int | None = None) -> list[Specialist]:
    """`qs` in alphabetical order (see ids_by_name), at most `limit` of them."""
    return in_name_order(qs, ids_by_name(qs)[:limit])


def candidates(case) -> QuerySet[Specialist]:
    """Specialists holding a valid licence where the patient is, practising the specialty, accepting, not declined.

    The conservative pre-filter (kept for the demo seeder); the scored ranking uses `pool` and the licensure table.
    """
    qs = directory(network=case.network, specialty=case.specialty_id,
                   state=case.identity.state or None).filter(accepting=True)
    declined = case.offers.filter(status="declined").values("specialist")
    return qs.exclude(pk__in=declined)


def pool(case, specialty: str | None = None) -> QuerySet[Specialist]:
    """The network's specialists practising the case's specialty (or `specialty`, the parent it falls back to):
    what the scored ranking evaluates."""
    if not case.specialty_id:
        return Specialist.objects.none()
    return directory(network=case.network, specialty=specialty or case.specialty_id).filter(accepting=True)


def network_specialists(network) -> QuerySet[Specialist]:
    """Every accepting specialist of `network`, prefetched for scoring (batch assignment)."""
    return _with_load(Specialist.objects.filter(network=network, accepting=True)).order_by("npi")


def ineligibility(case, specialist_id, *, table=None) -> str | None:
    """Why `specialist_id` may not be offered `case`, or None when they may.

    Checks what no coordinator may override: accepting, an earlier decline, specialty, licensure (the table, by
    the patient's location and the case's channel), capacity, and being the referring or first-opinion physician.
    The ranking also excludes a shared institution, a language without interpreter and a missing delivery mode;
    a coordinator who offers such a case anyway overrides that with their reason.
    """
    from . import inputs, scoring

    try:
        specialist = _with_load(Specialist.objects.filter(network=case.network)).get(pk=specialist_id)
    except (Specialist.DoesNotExist, ValueError, DjangoValidationError):
        return _("Unknown specialist.")
    if not specialist.accepting:
        return _("This specialist is not accepting cases.")
    if case.offers.filter(specialist=specialist, status="declined").exists():
        return _("This specialist already declined the case.")
    if case.specialty_id and not _takes(specialist, case):
        return _("This specialist does not practise the case's specialty.")
    spec = inputs.specialist_record(specialist)
    patient = case.identity  # the identity the case was submitted with (cases.identity)
    decision = licensure.eligibility(patient.state or None, case.channel, spec["licensed_states"], spec["imlc"],
                                     country=patient.country or licensure.US,
                                     licensed_countries=spec["licensed_countries"],
                                     table=table or licensure.load_table())
    if not decision.eligible:
        where = licensure.jurisdiction(patient.state, patient.country or licensure.US) or "?"
        return _("This specialist holds no valid license for %(state)s: %(rule)s.") % {
            "state": where, "rule": decision.rule}
    if scoring.free_slots(spec) <= 0:
        return _("This specialist has no capacity left.")
    record = {**inputs.case_record(case), "institution_excluded": []}  # an institution conflict only ranks lower
    problems = scoring.conflicts(record, spec)
    if problems:
        return _("This specialist has a conflict of interest: %(why)s.") % {"why": "; ".join(problems)}
    return None


def _takes(specialist, case) -> bool:
    """The specialist practises the case's specialty, or its parent when nobody of the specialty is eligible."""
    from . import ranking

    mine = Specialist.objects.filter(pk=specialist.pk)
    if mine.filter(_practises(case.specialty_id)).exists():
        return True
    return mine.filter(_practises(case.specialty_id, fallback=True)).exists() and ranking.falls_back(case)


def runs_for(networks) -> QuerySet[AssignmentRun]:
    return AssignmentRun.objects.filter(network__in=networks).select_related("network", "requested_by")


def proposals_of(run: AssignmentRun) -> QuerySet[BatchProposal]:
    return run.proposals.select_related("case", "case__patient", "case__specialty", "specialist__user").order_by(
        "state", "-score", "case__reference")
