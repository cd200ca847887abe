"""Demo programs for `konsil seed --demo` (called by konsil/demo.py): an employer benefit whose ~500-member
roster is imported from the 834 file shipped in data/, a payer program with mandated spine surgery and
bariatric reviews, and a dozen program cases across the flow, all through the real services. Idempotent: once
the employer program exists nothing is written again."""

from __future__ import annotations

import datetime as dt
import random

from django.utils import timezone

from konsil.accounts.models import Membership, User
from konsil.accounts.roles import Role
from konsil.cases import offers
from konsil.cases import services as cases
from konsil.matching.models import Specialist
from konsil.matching.npi import npi_check_digit
from konsil.opinions import services as opinions

from . import enrolment, mandates
from .demo_roster import PATH as ROSTER_834
from .models import BillingProfile, Enrollment, MandatedProcedure, Member, Program, Service
from .roster import fingerprint, import_roster

EMPLOYER_SLUG, PAYER_SLUG = "acme-benefit", "evergreen-mandates"
SCOPE = ["obtain_records", "share_with_reviewers", "share_report"]
REASON = "Demo scenario: the planned specialist"


def _npi(n: int) -> str:
    base = f"17{n:07d}"
    return base + npi_check_digit(base)


def seed(seeder) -> None:
    if Program.objects.filter(slug=EMPLOYER_SLUG).exists():
        return
    orgs, network = seeder.orgs, seeder.orgs["network"]
    _profile, created = BillingProfile.objects.get_or_create(network=network, defaults={
        "npi": _npi(1), "tax_id": "946543210", "address": "500 Market St", "city": "San Francisco", "state": "CA",
        "postal_code": "94105", "phone": "4155550100", "submitter_id": "KONSILNET"})
    seeder.summary.count("billing profiles", created)
    employer = Program.objects.create(
        sponsor=orgs["employer"], network=network, name="Acme Second Opinion Benefit", slug=EMPLOYER_SLUG,
        welcome="Before surgery or a serious diagnosis, ask a leading specialist. Free for Acme employees and "
                "their families.", accent="#0f766e", languages=["en", "es"], services=["written", "video"],
        pricing="case_rate", case_rates={"written": 75000, "video": 90000}, self_pay_cents=45000,
        contacts=[{"name": "Acme Benefits Team", "email": f"employer@{_domain()}", "phone": "", "role": "HR"}])
    summary = import_roster(actor="seed", program=employer, content=ROSTER_834.read_bytes(), fmt="834",
                            check_permission=False)
    seeder.summary.count("programs", True)
    seeder.summary.created["program members"] = summary["added"]
    payer = Program.objects.create(
        sponsor=orgs["payer"], network=network, name="Evergreen Mandated Second Opinions", slug=PAYER_SLUG,
        services=["written"], pricing="claim", case_rates={"written": 60000}, self_pay_cents=60000,
        payer_id="EVERGREEN01", languages=["en"],
        contacts=[{"name": "Utilization Management", "email": f"payer@{_domain()}", "phone": "", "role": "UM"}])
    for cpt, words, days in (("22630", "Lumbar spinal fusion (posterior interbody)", 14),
                             ("22612", "Lumbar spinal fusion (posterolateral)", 14),
                             ("43644", "Laparoscopic gastric bypass (Roux-en-Y)", 21),
                             ("43775", "Laparoscopic sleeve gastrectomy", 21)):
        MandatedProcedure.objects.create(program=payer, cpt=cpt, description=words, decision_days=days)
    seeder.summary.count("programs", True)
    _payer_roster(payer)
    _enrol_story_cases(employer, payer)
    _cases(seeder, employer, payer)


def _enrol_story_cases(*programs: Program) -> None:
    """The demo's story cases a sponsor funds were seeded before its program: they belong to it, so that the
    program's cases, billing and analytics count them like the cases started through the program."""
    from konsil.cases.models import Case

    services = {delivery: service for service, delivery in enrolment.DELIVERY.items() if service != Service.PANEL}
    for program in programs:
        for case in Case.objects.filter(sponsor=program.sponsor, enrollment__isnull=True):
            Enrollment.objects.create(case=case, program=program, eligible=True, checked_at=case.created_at,
                                      checked_on=timezone.localdate(case.created_at),
                                      service=services.get(case.preferred_delivery, Service.WRITTEN))


def _domain() -> str:
    from konsil.demo import DOMAIN

    return DOMAIN


PAYER_MEMBERS = 180
GIVEN = {"female": ("Anna", "Beatriz", "Chloe", "Dana", "Elena", "Grace", "Hui", "Leila", "Mei", "Nora", "Rosa"),
         "male": ("Aaron", "Bilal", "Carlos", "David", "Ethan", "Hiro", "Jamal", "Liam", "Marco", "Omar", "Tomas")}
FAMILY = ("Anders", "Bui", "Castillo", "Dunn", "Eriksen", "Fujita", "Garza", "Huang", "Ivanova", "Jensen", "Kaur",
          "Larsen", "Mendez", "Nakamura", "Olsen", "Pham", "Rivera", "Sato", "Tran", "Walsh", "Yoon")
STREETS = ("Cedar Ave", "Madrona Dr", "Rainier Ave S", "Alder St", "Fir St", "Lake Way")
WA_CITIES = (("Seattle", "98122"), ("Tacoma", "98402"), ("Spokane", "99201"), ("Bellevue", "98004"),
             ("Yakima", "98901"), ("Olympia", "98501"))


def _payer_roster(program: Program) -> None:
    start = dt.date(2026, 1, 1)
    people = [("EVG1001", "Martin", "Holloway", dt.date(1961, 4, 2), "male"),
              ("EVG1002", "Denise", "Okoro", dt.date(1979, 8, 19), "female"),
              ("EVG1003", "Victor", "Lindgren", dt.date(1968, 2, 7), "male"),
              ("EVG1004", "Paula", "Serrano", dt.date(1985, 11, 30), "female"),
              ("EVG1005", "George", "Abbott", dt.date(1957, 6, 14), "male"),
              ("EVG1006", "Irene", "Matsuda", dt.date(1972, 1, 9), "female")]
    addresses = [("200 Pine St", "Seattle", "98101")] * len(people)
    rng = random.Random(11)  # and the rest of the plan's members in Washington, the same on every seed
    for n in range(1, PAYER_MEMBERS - len(people) + 1):
        sex = rng.choice(("female", "male"))
        people.append((f"EVG{2000 + n}", rng.choice(GIVEN[sex]), rng.choice(FAMILY),
                       dt.date(rng.randint(1950, 2000), rng.randint(1, 12), rng.randint(1, 28)), sex))
        addresses.append((f"{rng.randint(10, 9999)} {rng.choice(STREETS)}", *rng.choice(WA_CITIES)))
    for (mid, given, family, born, sex), (address, city, postal) in zip(people, addresses, strict=True):
        values = {"member_id": mid, "subscriber_id": mid, "relationship": "subscriber", "given_name": given,
                  "family_name": family, "birth_date": born, "sex": sex, "coverage_start": start,
                  "coverage_end": None, "address": address, "city": city, "state": "WA", "postal_code": postal}
        Member.objects.create(program=program, fingerprint=fingerprint(values), **values)


def _member_user(seeder, n: int, member: Member) -> User:
    email = f"member{n:02d}@{_domain()}"
    user, created = User.objects.get_or_create(email=email, defaults={
        "username": email, "first_name": member.given_name, "last_name": member.family_name,
        "password": seeder.password_hash()})
    seeder.summary.count("users", created)
    Membership.objects.get_or_create(user=user, organization=seeder.orgs["network"], role=Role.PATIENT)
    return user


def _state_for(specialty: str) -> tuple[str, Specialist]:
    """A state where a directory specialist of `specialty` is licensed (the demo patient lives there)."""
    today = timezone.localdate()
    specialist = (Specialist.objects.filter(specialties=specialty, licenses__expires_on__gt=today)
                  .exclude(user__email__startswith="specialist@").order_by("npi").first())
    return specialist.licenses.filter(expires_on__gt=today).order_by("state").first().state, specialist


class _Walk:
    """One program case through the lifecycle to `target`, with the planned opinion."""

    ORDER = ("submitted", "triaged", "offered", "accepted", "in_review", "delivered")

    def __init__(self, seeder, case, patient_user, specialty: str, opinion: dict, recommended: str = ""):
        self.s, self.case, self.user = seeder, case, patient_user
        self.specialty, self.opinion, self.recommended = specialty, opinion, recommended

    def go(self, actor, action, **params):
        self.case = cases.transition(actor=actor, case=self.case, action=action, **params)

    def to(self, target: str) -> None:
        coordinator = self.s.users["coordinator"]
        cases.update_case(actor=self.user, case=self.case, data={"questions": ["Is this procedure right for me?"]})
        cases.sign_consent(actor=self.user, case=self.case, scope=SCOPE, signer_name=self.user.get_full_name())
        steps = self.ORDER[: self.ORDER.index(target) + 1]
        specialist = None
        for step in steps:
            if step == "submitted":
                self.go(self.user, "submit")
            elif step == "triaged":
                self.go(coordinator, "triage", specialty=self.specialty, urgency=self.case.urgency)
            elif step == "offered":
                ranked = [r.specialist for r in offers.ranked_for_offer(self.case)]
                specialist = ranked[0] if ranked else _state_for(self.specialty)[1]
                self.go(coordinator, "offer", specialist=str(specialist.pk), reason=REASON)
            elif step == "accepted":
                self.go(specialist.user, "accept")
            elif step == "in_review":
                self.go(specialist.user, "start_review")
            elif step == "delivered":
                if self.recommended:
                    mandates.set_recommended_cpt(actor=specialist.user, mandate=self.case.mandate,
                                                 data={"recommended_cpt": self.recommended})
                question = self.case.questions.first()
                opinions.save_draft(actor=specialist.user, case=self.case,
                                    data={**self.opinion, "answers": {str(question.pk): self.opinion["answer"]}})
                self.go(specialist.user, "complete_draft")
                self.go(specialist.user, "sign")
                self.go(coordinator, "deliver")


def _opinion(treatment: str, recommendation: str, answer: str, diagnosis: str = "confirmed") -> dict:
    return {"diagnosis_verdict": diagnosis, "revised_diagnosis": "", "treatment_verdict": treatment,
            "treatment_recommendation": recommendation, "further_tests": "", "confidence": "high",
            "narrative": "Synthetic demo opinion, no real patient data.", "answer": answer}


def _cases(seeder, employer: Program, payer: Program) -> None:
    """Employer: two drafts (one self-pay), four submitted, two delivered. Payer: six mandated reviews."""
    heart = _opinion("modify", "Medical therapy first; revisit the stent if symptoms persist.",
                     "Not now: medication first.")
    state, _s = _state_for("cardiology")
    employees = list(Member.objects.filter(program=employer, relationship="subscriber", coverage_end=None)
                     .order_by("member_id")[:8])
    plan = ["draft", "draft_self_pay", "submitted", "submitted", "submitted", "submitted", "delivered",
            "delivered"]
    for n, (member, target) in enumerate(zip(employees, plan, strict=True), start=1):
        user = _member_user(seeder, n, member)
        data = {"member_id": member.member_id, "birth_date": member.birth_date.isoformat(),
                "family_name": member.family_name, "given_name": member.given_name,
                "sex": {"F": "female", "M": "male"}.get(member.sex, member.sex or "unknown"), "state": state,
                "service": "written"}
        if target == "draft_self_pay":
            data.update(member_id="ACM99999", self_pay="on")
        enrollment = enrolment.start_case(actor=user, program=employer, data=data)
        cases.update_case(actor=user, case=enrollment.case, data={
            "diagnosis_text": "Chest pain on exertion; my cardiologist proposes a stent.",
            "proposed_treatment": "Coronary stent", "proposed_cpt": "92928", "diagnoses": ["I25.10"]})
        if target in ("submitted", "delivered"):
            _Walk(seeder, enrollment.case, user, "cardiology", heart).to(target)
        seeder.summary.count("program cases", True)
    spine_state, _s = _state_for("spine_surgery")
    bari_state, _s = _state_for("bariatric_surgery")
    care_manager = seeder.users["payer"]
    reviews = [  # member, CPT, words, codes, specialty, state, target, opinion, recommended CPT
        ("EVG1001", "22630", "L4-L5 posterior lumbar interbody fusion", ["M48.062", "M54.16"], "spine_surgery",
         spine_state, "delivered", _opinion("against", "Structured physiotherapy and an epidural injection; "
                                                       "fusion is not indicated without instability.",
                                            "No: try non-surgical care first."), ""),
        ("EVG1002", "43644", "Laparoscopic Roux-en-Y gastric bypass", ["E66.01", "K21.9"], "bariatric_surgery",
         bari_state, "delivered", _opinion("modify", "Sleeve gastrectomy suits better with the reflux treated.",
                                           "A sleeve gastrectomy instead."), "43775"),
        ("EVG1003", "22612", "Posterolateral lumbar fusion", ["M43.16"], "spine_surgery", spine_state,
         "in_review", None, ""),
        ("EVG1004", "43775", "Laparoscopic sleeve gastrectomy", ["E66.01"], "bariatric_surgery", bari_state,
         "submitted", None, ""),
        ("EVG1005", "22630", "L5-S1 interbody fusion", ["M51.36"], "spine_surgery", spine_state, "draft", None, ""),
        ("EVG1006", "43644", "Gastric bypass", ["E66.01"], "bariatric_surgery", bari_state, "invited", None, ""),
    ]
    for n, (mid, cpt, words, codes, specialty, st, target, opinion, recommended) in enumerate(reviews, start=20):
        member = Member.objects.get(program=payer, member_id=mid)
        mandate = mandates.refer(actor=care_manager, program=payer, data={
            "member_id": mid, "requesting_npi": _npi(100 + n), "requesting_name": "Cascade Spine & Weight Clinic",
            "cpt": cpt, "procedure_text": words, "diagnoses": codes})
        if target == "invited":
            continue
        user = _member_user(seeder, n, member)
        mandate = mandates.accept(actor=user, mandate=mandate, data={
            "birth_date": member.birth_date.isoformat(), "family_name": member.family_name, "state": st})
        case = mandate.case
        cases.update_case(actor=user, case=case, data={"diagnosis_text": words + " was proposed to me."})
        if target != "draft":
            _Walk(seeder, case, user, specialty, opinion or {}, recommended).to(target)
        seeder.summary.count("program cases", True)
