"""Keep the fact table exact: rebuild the facts of every case whose sources changed since the last refresh.

`refresh()` runs on the clock (core.schedule, every 5 minutes) and from `konsil analytics refresh`. A case's fact
is rebuilt whole from its case row, timeline, offers, triage decisions, signed opinion, program enrollment and
follow-up outcome, so the figures are exact as of the refresh's watermark. Changes are found by their
`updated_at`/`created_at`; the watermark trails the refresh's start by OVERLAP so a transaction that committed
late is read on the next run.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.apps import apps
from django.conf import settings
from django.db import transaction
from django.db.models import Count, Min, Q
from django.utils import timezone

from konsil.core import geo

from . import cube
from .models import CaseFact, Refresh

OVERLAP = timedelta(minutes=5)
CHUNK = 1000
STAGES = ("triaged", "offered", "accepted", "delivered")


def report_zone() -> ZoneInfo:
    """Months and days are counted in the deployment's time zone (KONSIL_TIME_ZONE)."""
    return ZoneInfo(settings.TIME_ZONE)


def local_date(moment: datetime, zone: ZoneInfo | None = None):
    return moment.astimezone(zone or report_zone()).date()


def _minutes(start, end) -> int | None:
    if start is None or end is None or end < start:
        return None
    return int((end - start).total_seconds() // 60)


def _specialty_groups() -> dict[str, str]:
    """Specialty code -> its top-level specialty code."""
    from konsil.matching.models import Specialty

    parents = dict(Specialty.objects.values_list("code", "parent_id"))

    def root(code: str) -> str:
        seen = set()
        while parents.get(code) and code not in seen:
            seen.add(code)
            code = parents[code]
        return code

    return {code: root(code) for code in parents}


def _programs(case_ids) -> dict:
    """Case id -> programs.Program id (the case's enrollment), once the programs app is installed."""
    if not apps.is_installed("konsil.programs"):
        return {}
    from konsil.programs.models import Enrollment

    return dict(Enrollment.objects.filter(case_id__in=case_ids).values_list("case_id", "program_id"))


YES_NO = {"yes": True, "no": False}


def _followups(case_ids) -> dict:
    """Case id -> the follow-up outcome (konsil.outcomes): plan changed, procedure avoided, cost difference, NPS."""
    if not apps.is_installed("konsil.outcomes"):
        return {}
    from konsil.outcomes.models import Outcome

    return {row["case_id"]: {"plan_changed": YES_NO.get(row["plan_changed"]), "nps": row["nps"],
                             "procedure_avoided": row["procedure_avoided"],
                             "cost_difference": row["cost_difference"]}
            for row in Outcome.objects.filter(case_id__in=case_ids).values(
                "case_id", "plan_changed", "procedure_avoided", "cost_difference", "nps")}


def build(case_ids, *, now=None, groups=None) -> list[CaseFact]:
    """The facts of these cases (submitted ones only), built from their source rows."""
    from konsil.cases.models import Case, Offer, StatusChange
    from konsil.opinions.models import Opinion
    from konsil.triage.models import TriageDecision

    now = now or timezone.now()
    zone = report_zone()
    groups = groups if groups is not None else _specialty_groups()
    ids = list(case_ids)
    cases = (Case.objects.filter(pk__in=ids, submitted_at__isnull=False)
             .values("pk", "network_id", "sponsor_id", "submitted_at", "delivered_at", "specialty_id", "channel",
                     "urgency", "preferred_delivery", "interpreter_needed", "status", "review_due_at",
                     "review_breached_at", "identity__state", "identity__language", "identity__county",
                     "patient__state", "patient__language", "patient__county"))
    firsts: dict = {}
    for row in (StatusChange.objects.filter(case_id__in=ids, to_status__in=STAGES)
                .values("case_id", "to_status").annotate(first=Min("created_at"))):
        firsts.setdefault(row["case_id"], {})[row["to_status"]] = row["first"]
    offers = {row["case_id"]: row for row in Offer.objects.filter(case_id__in=ids).values("case_id").annotate(
        made=Count("pk"), declined=Count("pk", filter=Q(status="declined")),
        expired=Count("pk", filter=Q(status="expired")))}
    decisions = {}
    for case_id, agreed in (TriageDecision.objects.filter(case_id__in=ids).order_by("created_at")
                            .values_list("case_id", "agreed")):
        decisions[case_id] = agreed  # the latest decision wins
    verdicts = {}
    for case_id, dx, tx in (Opinion.objects.filter(case_id__in=ids, signed_at__isnull=False).order_by("version")
                            .values_list("case_id", "diagnosis_verdict", "treatment_verdict")):
        verdicts[case_id] = (dx, tx)  # the latest signed version (an amendment supersedes)
    follow = _followups(ids)
    programs = _programs(ids)
    facts = []
    for row in cases:
        pk = row["pk"]
        stage = firsts.get(pk, {})
        submitted = row["submitted_at"]
        delivered = row["delivered_at"] or stage.get("delivered")
        day = local_date(submitted, zone)
        state = row["identity__state"] or row["patient__state"] or ""
        county = row["identity__county"] or row["patient__county"] or ""
        found = geo.county(county) if county else None
        offer = offers.get(pk, {})
        dx, tx = verdicts.get(pk, ("", ""))
        outcome = follow.get(pk, {})
        due = row["review_due_at"]
        facts.append(CaseFact(
            case_id=pk, network_id=row["network_id"], sponsor_id=row["sponsor_id"], program=programs.get(pk),
            submitted_on=day, month=day.replace(day=1), specialty=row["specialty_id"] or "",
            specialty_group=groups.get(row["specialty_id"] or "", row["specialty_id"] or ""),
            channel=row["channel"], urgency=row["urgency"], delivery=row["preferred_delivery"],
            language=row["identity__language"] or row["patient__language"] or "", interpreter=row["interpreter_needed"],
            state=state, county=county if found else "", rucc=found.rucc if found else None, status=row["status"],
            tat_triage=_minutes(submitted, stage.get("triaged")),
            tat_offer=_minutes(stage.get("triaged"), stage.get("offered")),
            tat_accept=_minutes(stage.get("offered"), stage.get("accepted")),
            tat_deliver=_minutes(stage.get("accepted"), delivered),
            tat_total=_minutes(submitted, delivered),
            breached=bool(row["review_breached_at"] or (due and delivered and delivered > due)),
            offers_made=offer.get("made", 0), offers_declined=offer.get("declined", 0),
            offers_expired=offer.get("expired", 0), triage_agreed=decisions.get(pk),
            diagnosis_verdict=dx or "", treatment_verdict=tx or "",
            plan_changed=outcome.get("plan_changed"), procedure_avoided=outcome.get("procedure_avoided"),
            cost_difference=outcome.get("cost_difference"), nps=outcome.get("nps"),
            refreshed_at=now))
    return facts


FACT_FIELDS = [f.name for f in CaseFact._meta.concrete_fields if not f.primary_key]


def _changed_since(since) -> set:
    """Ids of cases whose fact may differ from the sources changed at or after `since`."""
    from konsil.cases.models import Case, Offer, StatusChange
    from konsil.opinions.models import Opinion
    from konsil.triage.models import TriageDecision

    ids = set(Case.objects.filter(updated_at__gte=since).values_list("pk", flat=True))
    ids |= set(StatusChange.objects.filter(created_at__gte=since).values_list("case_id", flat=True))
    ids |= set(Offer.objects.filter(updated_at__gte=since).values_list("case_id", flat=True))
    ids |= set(Opinion.objects.filter(updated_at__gte=since).values_list("case_id", flat=True))
    ids |= set(TriageDecision.objects.filter(updated_at__gte=since).values_list("case_id", flat=True))
    if apps.is_installed("konsil.outcomes"):
        from konsil.outcomes.models import Outcome

        ids |= set(Outcome.objects.filter(updated_at__gte=since).values_list("case_id", flat=True))
    if apps.is_installed("konsil.programs"):
        from konsil.programs.models import Enrollment

        ids |= set(Enrollment.objects.filter(updated_at__gte=since).values_list("case_id", flat=True))
    return ids


def refresh(*, full: bool = False, now=None) -> Refresh:
    """Bring the facts up to date (all of them with `full`); returns the run's record."""
    from konsil.cases.models import Case

    started = time.perf_counter()
    now = now or timezone.now()
    last = Refresh.objects.filter(finished_at__isnull=False, watermark__isnull=False).first()
    full = full or last is None
    run = Refresh.objects.create(started_at=now, full=full)
    ids = list(Case.objects.values_list("pk", flat=True)) if full else sorted(_changed_since(last.watermark))
    groups = _specialty_groups()
    touched: set = set()  # (network, month) pairs whose cells change: where the facts were and are now
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start:start + CHUNK]
        facts = build(chunk, now=now, groups=groups)
        if not full:
            touched |= set(CaseFact.objects.filter(pk__in=chunk).values_list("network_id", "month"))
            touched |= {(fact.network_id, fact.month) for fact in facts}
        with transaction.atomic():  # an upsert: two refreshes at once both end with the same rows
            CaseFact.objects.bulk_create(facts, update_conflicts=True, unique_fields=["case"],
                                         update_fields=FACT_FIELDS)
    if full:  # a full run also forgets cases that no longer exist
        CaseFact.objects.filter(refreshed_at__lt=now).delete()
    cube.rebuild(None if full else touched)
    run.finished_at = timezone.now()
    run.watermark = now - OVERLAP
    run.cases = len(ids)
    run.seconds = time.perf_counter() - started
    run.save(update_fields=["finished_at", "watermark", "cases", "seconds"])
    return run


def generation() -> int | None:
    """The last refresh that changed the facts: cached figures stay valid until the next such refresh."""
    return Refresh.objects.filter(finished_at__isnull=False, cases__gt=0).values_list("pk", flat=True).first()


def last_refresh() -> Refresh | None:
    return Refresh.objects.filter(finished_at__isnull=False).first()
