"""`konsil seed --history N`: N realistic past cases over the last 24 months, for the analytics page.

Spread over states by population (counties by population within them, so the rural share is real), channels,
specialties, urgencies, languages, turnaround, offers, triage decisions, signed opinions and follow-up outcomes.
Case i is always built the same way (its own random stream) and carries the reference H-000000i: running it again
with the same N adds nothing; a larger N adds the missing ones. The names are synthetic.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.apps import apps
from django.db import transaction
from django.utils import timezone

from konsil.core import geo

PREFIX = "H-"
DRAFTING = timedelta(minutes=25)  # from the case started to the case submitted
MONTHS = 24
SPECIALTIES = {"medical_oncology": 16, "breast_oncology": 6, "cardiology": 13, "orthopedic_surgery": 10,
               "spine_surgery": 6, "neurology": 8, "neurosurgery": 5, "gastroenterology": 6, "endocrinology": 4,
               "radiation_oncology": 4, "surgical_oncology": 4, "hematology": 3, "rheumatology": 3,
               "urology": 4, "nephrology": 2, "pulmonology": 3, "dermatology": 2}
CHANNELS = {"patient": 30, "clinician": 25, "payer": 25, "employer": 20}
URGENCY = {"routine": 80, "urgent": 17, "stat": 3}
LANGUAGES = {"en": 80, "es": 13, "zh": 2, "vi": 1.5, "ko": 1, "tl": 1, "ru": 0.8, "ar": 0.7}
DELIVERY = {"written": 70, "video": 22, "phone": 6, "in_person": 2}
DIAGNOSIS = {"confirmed": 58, "refined": 28, "changed": 14}
TREATMENT = {"agree": 55, "modify": 26, "alternative": 12, "against": 7}
REVIEW_HOURS = {"routine": 72, "urgent": 24, "stat": 4}
# The diagnosis each history case is about (ICD-10-CM), by specialty, with the sex it needs if any: a claim (837P)
# for a delivered program case needs a code.
CODES = {"medical_oncology": ("C34.11", None), "breast_oncology": ("C50.411", "female"),
         "cardiology": ("I25.10", None), "orthopedic_surgery": ("M17.11", None), "spine_surgery": ("M51.16", None),
         "neurology": ("G40.909", None), "neurosurgery": ("D32.0", None), "gastroenterology": ("K50.90", None),
         "endocrinology": ("E05.00", None), "radiation_oncology": ("C61", "male"),
         "surgical_oncology": ("C25.0", None), "hematology": ("D46.9", None), "rheumatology": ("M06.9", None),
         "urology": ("N40.1", "male"), "nephrology": ("N18.4", None), "pulmonology": ("J84.10", None),
         "dermatology": ("C43.59", None)}
# What a history opinion says, by verdict: enough for its report to read whole and its signature to verify.
DIAGNOSIS_TEXT = {"confirmed": "The records and imaging support the diagnosis as referred.",
                  "refined": "The diagnosis stands and is made more precise by the imaging reviewed.",
                  "changed": "The records point to a different diagnosis than the one referred."}
# The diagnosis a "changed" opinion reaches instead, by specialty (ICD-10-CM).
CHANGED_TO = {"medical_oncology": "D86.0", "breast_oncology": "N60.11", "cardiology": "K21.9",
              "orthopedic_surgery": "M22.41", "spine_surgery": "M48.062", "neurology": "R55", "neurosurgery": "G93.0",
              "gastroenterology": "K51.90", "endocrinology": "E06.1", "radiation_oncology": "N40.1",
              "surgical_oncology": "K86.1", "hematology": "D61.9", "rheumatology": "M15.0", "urology": "N32.0",
              "nephrology": "N18.30", "pulmonology": "J67.9", "dermatology": "D22.5"}
TREATMENT_TEXT = {"agree": "The proposed treatment is appropriate; go ahead as planned.",
                  "modify": "The proposed treatment is appropriate with changes to its extent and timing.",
                  "alternative": "A less invasive alternative should be tried first, with review in three months.",
                  "against": "The proposed treatment is not recommended on the present findings."}
GIVEN = ["Alex", "Maria", "James", "Wei", "Fatima", "Kenji", "Olga", "Luis", "Amara", "Noah", "Priya", "Sam"]
FAMILY = ["Smith", "García", "Nguyen", "Kim", "Johnson", "Patel", "Brown", "López", "Chen", "Okafor", "Silva"]


def _pick(rng: random.Random, weights: dict):
    return rng.choices(list(weights), weights=list(weights.values()))[0]


@dataclass
class Pools:
    network: object
    requester: object
    decider: object
    specialists: dict  # specialty group -> [Specialist]
    everyone: list
    sponsors: dict  # channel -> [Organization]
    programs: dict  # sponsor id -> [Program]
    members: dict  # program id -> [Member] on its roster, in member id order
    states: list
    state_weights: list
    counties: dict  # usps -> ([fips], [population])
    specialties: dict


def _pools(network) -> Pools:
    from konsil.accounts.models import Membership, Organization, User
    from konsil.matching.models import Specialist, Specialty

    requester, _created = User.objects.get_or_create(
        email="history@konsil.invalid", defaults={"username": "history@konsil.invalid", "first_name": "History",
                                                  "last_name": "Import", "is_active": False})
    coordinator = Membership.objects.filter(organization=network, role="coordinator", active=True).first()
    known = set(Specialty.objects.values_list("code", flat=True))
    specialties = {code: w for code, w in SPECIALTIES.items() if code in known} or {c: 1 for c in list(known)[:5]}
    everyone = list(Specialist.objects.filter(network=network).prefetch_related("specialties", "subspecialties",
                                                                                "licenses"))
    by_group: dict = {}
    for person in everyone:
        for s in [*person.specialties.all(), *person.subspecialties.all()]:
            by_group.setdefault(s.code, []).append(person)
    sponsors = {"payer": list(Organization.objects.filter(kind="payer")),
                "employer": list(Organization.objects.filter(kind="employer"))}
    programs: dict = {}
    members: dict = {}
    if apps.is_installed("konsil.programs"):
        from konsil.programs.models import Program

        for program in Program.objects.filter(network=network, active=True):
            programs.setdefault(program.sponsor_id, []).append(program)
            members[program.pk] = list(program.members.filter(relationship="subscriber").order_by("member_id"))
    states = [s for s in geo.states().values() if s.is_state]
    counties: dict = {}
    for county in geo.counties().values():
        fips, pops = counties.setdefault(county.usps, ([], []))
        fips.append(county.fips)
        pops.append(max(county.population, 1))
    return Pools(network, requester, coordinator.user if coordinator else requester, by_group, everyone, sponsors,
                 programs, members, [s.usps for s in states], [s.population for s in states], counties, specialties)


def _hours(rng: random.Random, median: float, spread: float = 0.8) -> timedelta:
    return timedelta(hours=rng.lognormvariate(0, spread) * median)


def _case_plan(i: int, pools: Pools, now: datetime) -> dict:
    """Everything about history case i, from its own random stream."""
    rng = random.Random(f"konsil-history-{i}")
    # more cases in recent months (a growing service)
    age_days = int(MONTHS * 30.4 * (1 - rng.random() ** 0.8))
    submitted = now - timedelta(days=age_days, hours=rng.randrange(24), minutes=rng.randrange(60))
    state = rng.choices(pools.states, weights=pools.state_weights)[0]
    fips, pops = pools.counties.get(state, ([""], [1]))
    county = rng.choices(fips, weights=pops)[0] if rng.random() < 0.9 else ""
    channel = _pick(rng, CHANNELS)
    urgency = _pick(rng, URGENCY)
    specialty = _pick(rng, pools.specialties)
    plan = {"i": i, "submitted": submitted, "state": state, "county": county, "channel": channel,
            "urgency": urgency, "specialty": specialty, "language": _pick(rng, LANGUAGES),
            "delivery": _pick(rng, DELIVERY), "sponsor": None, "program": None, "stages": {}, "offers": [],
            "agreed": None, "diagnosis": "", "treatment": "", "outcome": None, "status": "submitted",
            "given": rng.choice(GIVEN), "family": rng.choice(FAMILY), "birth_year": rng.randint(1940, 2005)}
    plan["interpreter"] = plan["language"] != "en" and rng.random() < 0.4
    if channel in ("payer", "employer") and pools.sponsors[channel]:
        plan["sponsor"] = rng.choice(pools.sponsors[channel])
        choices = pools.programs.get(plan["sponsor"].pk)
        plan["program"] = rng.choice(choices) if choices else None
        if plan["program"] and plan["program"].services and plan["delivery"] not in plan["program"].services:
            plan["delivery"] = plan["program"].services[0]  # what the program pays for
    code, sex = CODES.get(specialty, ("", None))
    plan.update(code=code, sex=sex or rng.choice(["female", "male"]), member=None, birth=None)
    roster = pools.members.get(plan["program"].pk, []) if plan["program"] else []
    day = submitted.date()
    roster = [m for m in roster if m.sex == plan["sex"] and m.coverage_start <= day
              and (m.coverage_end is None or m.coverage_end >= day)]  # covered when the case was submitted
    if roster:  # a program case is about a member on the program's roster
        member = rng.choice(roster)
        plan.update(member=member, given=member.given_name, family=member.family_name, birth=member.birth_date)
        if member.state and member.state != state:
            fips, pops = pools.counties.get(member.state, ([""], [1]))
            plan.update(state=member.state, county=rng.choices(fips, weights=pops)[0])
    if rng.random() < 0.04:
        plan["status"] = "withdrawn"
        return plan
    t = submitted + _hours(rng, 3 if urgency == "routine" else 1)
    steps = [("triaged", t)]
    plan["agreed"] = rng.random() < 0.86
    t += _hours(rng, 5 if urgency == "routine" else 1.5)
    steps.append(("offered", t))
    while rng.random() < 0.22:  # declined or timed out before someone accepts
        plan["offers"].append(rng.choice(["declined", "expired"]))
    plan["offers"].append("accepted")
    t += _hours(rng, 8 if urgency == "routine" else 2)
    steps.append(("accepted", t))
    review = REVIEW_HOURS[urgency]
    t_review = _hours(rng, review * 0.65, 0.45)
    plan["breached"] = t_review > timedelta(hours=review)
    plan["due"] = t + timedelta(hours=review)
    t += t_review
    steps.append(("delivered", t))
    reached = [(name, moment) for name, moment in steps if moment < now]
    plan["stages"] = dict(reached)
    plan["status"] = reached[-1][0] if reached else "submitted"
    if plan["status"] != "accepted" and "accepted" not in plan["stages"]:
        plan["offers"] = plan["offers"][:-1] if "offered" in plan["stages"] else []
        plan["breached"] = False
    if plan["status"] == "delivered":
        oncology = "oncology" in specialty
        plan["diagnosis"] = _pick(rng, {**DIAGNOSIS, "changed": DIAGNOSIS["changed"] * (1.5 if oncology else 1)})
        plan["treatment"] = _pick(rng, TREATMENT)
        if rng.random() < 0.65 and t + timedelta(days=30) < now:
            changed = plan["treatment"] != "agree"
            cost = None
            avoided = None
            if plan["treatment"] in ("alternative", "against"):
                avoided = rng.random() < 0.55
                cost = Decimal(-rng.randint(2000, 40000)) if avoided else Decimal(-rng.randint(0, 8000))
            elif plan["treatment"] == "agree":
                avoided = False
                cost = Decimal(0)
            plan["outcome"] = {"plan_changed": "yes" if changed and rng.random() < 0.85 else "no",
                               "procedure_avoided": avoided, "cost_difference": cost,
                               "nps": min(10, max(0, round(rng.gauss(8.6, 1.6))))}
    return plan


def seed_history(n: int, *, network=None, now: datetime | None = None) -> int:
    """Create the missing history cases 1..n in `network` (default: the first provider network); the number
    created. Refreshes the analytics facts afterwards."""
    from konsil.accounts.models import Organization
    from konsil.cases.models import Case

    if n < 0 or n > 2_000_000:
        raise ValueError("N must be between 0 and 2,000,000")
    network = network or Organization.objects.filter(kind="provider_network").order_by("created_at").first()
    if network is None:
        raise ValueError("no provider network: run `konsil seed --demo` first")
    now = now or timezone.now()
    existing = set(Case.objects.filter(reference__startswith=PREFIX).values_list("reference", flat=True))
    missing = [i for i in range(1, n + 1) if f"{PREFIX}{i:07d}" not in existing]
    if not missing:
        return 0
    pools = _pools(network)
    for start in range(0, len(missing), 2000):
        _create([_case_plan(i, pools, now) for i in missing[start:start + 2000]], pools)
    from konsil.audit.services import emit

    emit(actor="seed", action="analytics.seed_history", detail={"created": len(missing), "n": n})
    from .rollup import refresh

    refresh()
    return len(missing)


@transaction.atomic
def _create(plans: list[dict], pools: Pools) -> None:
    from konsil.cases.models import Case, CaseDiagnosis, Offer, Patient, PatientIdentity, StatusChange
    from konsil.opinions.models import Opinion
    from konsil.triage.models import TriageDecision

    patients = Patient.objects.bulk_create([Patient(
        network=pools.network, given_name=p["given"], family_name=p["family"],
        birth_date=p["birth"] or date(p["birth_year"], 6, 1), sex=p["sex"], state=p["state"], county=p["county"],
        country="US", language=p["language"]) for p in plans])
    identities = PatientIdentity.objects.bulk_create([PatientIdentity(
        patient=patient, version=1, given_name=patient.given_name, family_name=patient.family_name,
        birth_date=patient.birth_date, sex=patient.sex, state=patient.state, county=patient.county, country="US",
        language=patient.language) for patient in patients])
    cases, changes, offers, decisions, opinions, outcomes, enrollments, codes = [], [], [], [], [], [], [], []
    for p, patient, identity in zip(plans, patients, identities, strict=True):
        people = pools.specialists.get(p["specialty"]) or pools.everyone
        licensed = [x for x in people if any(lic.state == p["state"] for lic in x.licenses.all())]
        people = licensed or people  # a specialist licensed where the patient lives, when the network has one
        author = people[p["i"] % len(people)] if people else None
        stages = p["stages"]
        case = Case(reference=f"{PREFIX}{p['i']:07d}", network=pools.network, sponsor=p["sponsor"], patient=patient,
                    identity=identity, requester=pools.requester, channel=p["channel"], status=p["status"],
                    urgency=p["urgency"], preferred_delivery=p["delivery"], interpreter_needed=p["interpreter"],
                    specialty_id=p["specialty"], submitted_at=p["submitted"], delivered_at=stages.get("delivered"),
                    created_at=p["submitted"] - DRAFTING,
                    assigned_specialist=author if "accepted" in stages else None,
                    review_due_at=p.get("due") if "accepted" in stages else None,
                    review_breached_at=p.get("due") if p.get("breached") and "accepted" in stages else None)
        cases.append(case)
        if p["code"]:
            codes.append(CaseDiagnosis(case=case, code=p["code"], created_at=case.created_at))
        previous = "draft"
        for target, moment in _timeline(p["submitted"], stages):
            changes.append(StatusChange(case=case, action=target, from_status=previous, to_status=target,
                                        role="system", created_at=moment))
            previous = target
        if author is not None:
            for k, status in enumerate(p["offers"]):
                offers.append(Offer(case=case, specialist=author, status=status, attempt=k + 1,
                                    responded_at=stages.get("accepted"), created_at=stages["offered"]))
            if p["diagnosis"]:
                opinions.append(_opinion(case, author, p, stages))
        if p["agreed"] is not None and "triaged" in stages:
            decisions.append(TriageDecision(case=case, chosen_specialty_id=p["specialty"],
                                            chosen_urgency=p["urgency"], agreed=p["agreed"],
                                            decided_by=pools.decider, created_at=stages["triaged"]))
        if p["outcome"]:
            outcomes.append((case, p["outcome"]))
        if p["program"]:
            enrollments.append((case, p["program"], p["member"]))
    for model, rows in ((Case, cases), (CaseDiagnosis, codes), (StatusChange, changes), (Offer, offers),
                        (TriageDecision, decisions), (Opinion, opinions)):
        _create_backdated(model, rows)
    if outcomes and apps.is_installed("konsil.outcomes"):
        from konsil.outcomes.models import Outcome

        Outcome.objects.bulk_create([Outcome(case=case, answers=1, **values) for case, values in outcomes])
    if enrollments and apps.is_installed("konsil.programs"):
        from konsil.programs.models import Enrollment

        Enrollment.objects.bulk_create([Enrollment(case=case, program=program, member=member, eligible=True,
                                                   service=case.preferred_delivery)
                                        for case, program, member in enrollments])


def _timeline(submitted: datetime, stages: dict) -> list[tuple[str, datetime]]:
    """Every step a case page shows, in order: submitted, the measured stages, and a delivered case's review
    started an hour after acceptance (or sooner) and its opinion signed minutes before delivery."""
    steps = [("submitted", submitted), *stages.items()]
    if "delivered" in stages:
        accepted, delivered = stages["accepted"], stages["delivered"]
        review = accepted + min(timedelta(hours=1), (delivered - accepted) / 4)
        signed = delivered - min(timedelta(minutes=5), (delivered - review) / 2)
        steps[-1:-1] = [("in_review", review), ("signed", signed)]
    return steps


def _opinion(case, author, p: dict, stages: dict):
    """A signed history opinion with its words and content hash, as signing would have frozen it."""
    from konsil.opinions.models import Opinion, new_verify_code
    from konsil.opinions.services import content_hash

    text = DIAGNOSIS_TEXT[p["diagnosis"]]
    opinion = Opinion(
        case=case, author=author, diagnosis_verdict=p["diagnosis"], treatment_verdict=p["treatment"],
        revised_diagnosis={"refined": p["code"], "changed": CHANGED_TO.get(p["specialty"], "")}.get(p["diagnosis"], ""),
        diagnosis_comment=text if p["diagnosis"] != "confirmed" else "",
        treatment_recommendation=TREATMENT_TEXT[p["treatment"]], answers={}, further_tests="",
        narrative=f"{text} {TREATMENT_TEXT[p['treatment']]}",
        confidence="high" if p["diagnosis"] == "confirmed" else "moderate",
        signed_by=author.user, signed_at=stages["delivered"], created_at=stages["accepted"],
        verify_code=new_verify_code())
    opinion.content_hash = content_hash(opinion)
    return opinion


def _create_backdated(model, rows: list) -> None:
    """Insert the rows at the moments they carry: `auto_now_add` overwrites `created_at` with "now" on the way in
    (on the instances too), so the moments are put back and written again."""
    moments = [row.created_at for row in rows]
    made = model.objects.bulk_create(rows)
    for row, moment in zip(made, moments, strict=True):
        row.created_at = moment
    model.objects.bulk_update(made, ["created_at"], batch_size=500)
