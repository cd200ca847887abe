"""Demo data for `konsil seed --demo`: organizations, one login per role, ~60 specialists and a dozen cases.

Idempotent: rows are found by stable natural keys (organization slug, email, NPI, case reference K-DEMOnn) and
a case that exists is left alone, so a second run writes nothing. Every case reaches its status through the
real services (intake, consent, triage proposal, lifecycle transitions, opinion drafts), so its timeline and
audit trail are genuine. Deterministic: random.Random(42). All names are fictional.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field

from django.contrib.auth.hashers import make_password
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.test.utils import override_settings
from django.utils import timezone
from django.utils.translation import gettext as _

from konsil.accounts.models import Membership, Organization, User
from konsil.accounts.roles import OrganizationKind, Role
from konsil.audit.services import emit
from konsil.cases import offers
from konsil.cases import services as cases
from konsil.cases.models import CaregiverAuthorization, Case, Patient
from konsil.core import context
from konsil.matching import catalog
from konsil.matching.models import License, RoutingSetting, Specialist, Specialty
from konsil.matching.npi import npi_check_digit
from konsil.matching.selectors import candidates
from konsil.opinions import services as opinions
from konsil.programs.demo import seed as seed_programs
from konsil.triage import services as triage

from .records import demo_records
from .scenarios import CASES, PATIENTS, CasePlan, route

PASSWORD = "konsil-demo-2026"
DOMAIN = "konsil.demo"
SEED = 42
OFFER_REASON = "Demo scenario: the planned specialist"  # an override of the ranking needs a reason
GENERATED_SPECIALISTS = 58  # plus specialist@ and chair@

ORGS = {
    "network": ("Konsil Second Opinion Network", OrganizationKind.PROVIDER_NETWORK, "konsil-network", ""),
    "hospital": ("Riverside General Hospital", OrganizationKind.HOSPITAL, "riverside-general-hospital", "CA"),
    "payer": ("Evergreen Health Plan", OrganizationKind.PAYER, "evergreen-health-plan", "WA"),
    "employer": ("Acme Corp Benefits", OrganizationKind.EMPLOYER, "acme-corp-benefits", "TX"),
}


@dataclass(frozen=True)
class Login:
    key: str
    role: str
    org: str
    first_name: str
    last_name: str

    @property
    def email(self) -> str:
        return f"{self.key}@{DOMAIN}"


LOGINS = (
    Login("patient", Role.PATIENT, "network", "Rosa", "Ejemplo"),
    Login("caregiver", Role.CAREGIVER, "network", "Carmen", "Ejemplo"),
    Login("clinician", Role.REFERRING_CLINICIAN, "hospital", "Alan", "Placeholder"),
    Login("coordinator", Role.COORDINATOR, "network", "Cora", "Queueman"),
    Login("specialist", Role.SPECIALIST, "network", "Elena", "Cardoso"),
    Login("chair", Role.PANEL_CHAIR, "network", "Priya", "Raman"),
    Login("payer", Role.PAYER_ADMIN, "payer", "Paul", "Payne"),
    Login("employer", Role.EMPLOYER_ADMIN, "employer", "Emma", "Benefield"),
    Login("auditor", Role.AUDITOR, "network", "Audrey", "Tracer"),
    Login("admin", Role.ORG_ADMIN, "network", "Adam", "Minister"),
)

# The two named specialists: (login key, specialties, licensed states, languages, institution, capacity).
NAMED_SPECIALISTS = (
    ("specialist", ("cardiology", "interventional_cardiology"), ("CA", "NV", "AZ", "OR"), ("en", "es"),
     "Bayview University Medical Center", 10),
    ("chair", ("medical_oncology", "breast_oncology"), ("CA", "NY", "TX", "WA", "FL"), ("en", "es", "hi"),
     "Lakeshore Cancer Center", 6),
)

STORY_SPECIALTIES = ("breast_oncology",)  # licensed in CA: the breast-cancer story of issue 9
STATES = ("CA", "TX", "NY", "FL", "IL", "PA", "OH", "GA", "NC", "MI", "NJ", "VA", "WA", "AZ", "MA", "TN",
          "IN", "MO", "MD", "CO", "MN", "OR")
TIME_ZONES = {"CA": "America/Los_Angeles", "WA": "America/Los_Angeles", "OR": "America/Los_Angeles",
              "NV": "America/Los_Angeles", "AZ": "America/Phoenix", "CO": "America/Denver",
              "TX": "America/Chicago", "IL": "America/Chicago", "TN": "America/Chicago",
              "MO": "America/Chicago", "MN": "America/Chicago"}
PANEL_STATES = tuple(sorted({p.state for p in PATIENTS.values()}))  # where the demo's panels can convene
SECOND_LANGUAGES = ("es", "es", "es", "zh", "vi", "ja", "ko", "fr", "ar", "ru", "pt", "hi", "tl")
FIRST_NAMES = (
    "Amara", "Benjamin", "Chloe", "Daniel", "Esther", "Farid", "Grace", "Hiro", "Isabel", "Jamal", "Keiko",
    "Luis", "Maya", "Nikolai", "Olivia", "Pedro", "Quinn", "Rana", "Samuel", "Tara", "Uma", "Victor", "Wen",
    "Ximena", "Yusuf", "Zoe", "Arjun", "Beatriz", "Chen", "Dmitri", "Elif", "Felipe",
)
LAST_NAMES = (
    "Abara", "Bergstrom", "Castillo", "Dubois", "Eriksen", "Fujita", "Gallagher", "Haddad", "Ivanova",
    "Jensen", "Kowalski", "Lindqvist", "Moreno", "Nakamura", "Okafor", "Petrov", "Quintero", "Rahman",
    "Sato", "Tran", "Underwood", "Valdez", "Whitaker", "Xu", "Yamamoto", "Zielinski", "Brennan", "Choi",
)
INSTITUTIONS = (
    "Bayview University Medical Center", "Summit Heart Institute", "Lakeshore Cancer Center",
    "Northgate Neuroscience Institute", "Meadowbrook Orthopaedic Clinic", "Riverside General Hospital",
    "Pinecrest Children's Hospital", "Silverlake Academic Medical Center", "Granite State Clinic",
    "Blue Harbor Kidney and Transplant Center",
)



def demo_npi(n: int) -> str:
    base = f"19{n:07d}"
    return base + npi_check_digit(base)


@dataclass
class SeedSummary:
    created: dict[str, int] = field(default_factory=dict)
    totals: dict[str, int] = field(default_factory=dict)

    def count(self, kind: str, created: bool) -> None:
        if created:
            self.created[kind] = self.created.get(kind, 0) + 1

    @property
    def changed(self) -> bool:
        return bool(self.created)

    def report(self) -> list[str]:
        """Two lines for the console: what was created, and what the demo data holds."""
        if self.changed:
            created = ", ".join(f"{n} {kind}" for kind, n in self.created.items())
            first = _("Demo data created: %(created)s.") % {"created": created}
        else:
            first = _("Demo data already present: nothing changed.")
        totals = _("%(users)d demo users, %(specialists)d specialists in %(specialties)d specialties and "
                   "%(states)d states, %(cases)d demo cases.") % self.totals
        return [first, totals]


class _Seeder:
    def __init__(self, summary: SeedSummary):
        self.summary = summary
        self.rng = random.Random(SEED)
        self.today = timezone.localdate()
        self._hash: str | None = None
        self.orgs: dict[str, Organization] = {}
        self.users: dict[str, User] = {}

    # --- people and organizations ---------------------------------------------------------------------------

    def password_hash(self) -> str:
        if self._hash is None:  # Argon2 is deliberately slow: hash the shared demo password once
            self._hash = make_password(PASSWORD)
        return self._hash

    def organizations(self) -> None:
        for key, (name, kind, slug, state) in ORGS.items():
            org, created = Organization.objects.get_or_create(
                slug=slug, defaults={"name": name, "kind": kind, "state": state})
            self.orgs[key] = org
            self.summary.count("organizations", created)

    def user(self, email: str, first: str, last: str, role: str, org: Organization, **extra) -> User:
        user, created = User.objects.get_or_create(email=email, defaults={
            "username": email, "first_name": first, "last_name": last, "password": self.password_hash(),
            **extra})
        self.summary.count("users", created)
        _membership, created = Membership.objects.get_or_create(user=user, organization=org, role=role)
        self.summary.count("memberships", created)
        return user

    def logins(self) -> None:
        for login in LOGINS:
            extra = {"is_staff": True, "is_superuser": True} if login.role == Role.ORG_ADMIN else {}
            self.users[login.key] = self.user(login.email, login.first_name, login.last_name, login.role,
                                              self.orgs[login.org], **extra)
        # The panel chair also reviews cases as a specialist.
        self.user(self.users["chair"].email, "", "", Role.SPECIALIST, self.orgs["network"])

    def specialist(self, user: User, npi: str, specialties, states, languages, institution: str,
                   capacity: int, expired: frozenset[str] = frozenset()) -> Specialist:
        home = states[0]
        rng = random.Random(npi)  # the same profile on every run
        start = rng.choice(["08:00", "09:00", "10:00"])
        specialist, created = Specialist.objects.get_or_create(user=user, defaults={
            "network": self.orgs["network"], "npi": npi, "languages": list(languages),
            "institution": institution, "capacity": capacity,
            "time_zone": TIME_ZONES.get(home, "America/New_York"),
            "delivery_modes": ["written", "video"] + (["phone"] if rng.random() < 0.5 else []),
            "turnaround_hours": rng.choice([24, 48, 72]), "weekly_hours": rng.choice([4, 8, 12]),
            "availability": [{"day": d, "start": start, "end": "17:00"} for d in range(5)],
            "on_time_rate": round(rng.uniform(0.75, 0.99), 2), "completed_cases": rng.randint(5, 400),
            "peer_review_score": round(rng.uniform(0.7, 0.98), 2), "imlc": rng.random() < 0.4,
            "fee": rng.choice([350, 450, 600, 800]), "fee_currency": "USD"})
        self.summary.count("specialists", created)
        if created:
            specialist.specialties.add(*specialties)
        for state in states:
            days = -self.rng.randint(10, 200) if state in expired else self.rng.randint(200, 1100)
            _license, created = License.objects.get_or_create(specialist=specialist, state=state, defaults={
                "number": f"{state}-{npi[-6:]}", "expires_on": self.today + dt.timedelta(days=days)})
            self.summary.count("licenses", created)
        return specialist

    def specialists(self) -> None:
        for n, (key, specialties, states, languages, institution, capacity) in enumerate(NAMED_SPECIALISTS):
            self.specialist(self.users[key], demo_npi(n + 1), specialties, states, languages, institution,
                            capacity)
        for spec in self._directory_plan():
            user = self.user(spec["email"], spec["first"], spec["last"], Role.SPECIALIST,
                             self.orgs["network"])
            self.specialist(user, spec["npi"], [spec["specialty"]], spec["states"], spec["languages"],
                            spec["institution"], spec["capacity"], spec["expired"])

    def routing(self) -> None:
        """Auto-routing on for the demo network, once the demo cases have taken their planned paths."""
        _row, created = RoutingSetting.objects.get_or_create(network=self.orgs["network"],
                                                             defaults={"auto_route": True})
        self.summary.count("routing settings", created)

    def _directory_plan(self) -> list[dict]:
        """The generated specialists: every catalog specialty, two for those the demo cases need."""
        rng = self.rng
        codes = sorted(row["code"] for row in catalog.rows())
        needed = sorted({p.specialty for p in CASES if p.specialist == "directory"})
        sequence = codes + needed
        while len(sequence) < GENERATED_SPECIALISTS:
            sequence.append(rng.choice(codes))
        plans = []
        for i, specialty in enumerate(sequence[:GENERATED_SPECIALISTS]):
            home = STATES[i % len(STATES)]
            extra = rng.sample([s for s in STATES if s != home], rng.randint(0, 2))
            languages = ["en"]
            if rng.random() < 0.45:
                languages.append(rng.choice(SECOND_LANGUAGES))
            first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
            plans.append({
                "email": f"{first}.{last}.{i + 1:02d}@{DOMAIN}".lower(), "first": first, "last": last,
                "npi": demo_npi(100 + i), "specialty": specialty, "states": [home, *extra],
                "languages": languages, "institution": _institution(rng.choice(INSTITUTIONS), specialty, i),
                "capacity": rng.randint(3, 8),
                "expired": frozenset(s for s in extra if rng.random() < 0.1),
            })
        # Each case matched from the directory needs two specialists licensed where its patient lives, and a
        # panel case one specialist per role.
        from konsil.opinions.panels import template_named

        for plan in CASES:
            state = PATIENTS[plan.patient].state
            same = [p for p in plans if p["specialty"] == plan.specialty][:2]
            if plan.panel:
                same += [next(p for p in plans if p["specialty"] in ((plan.specialty,) if plan.specialty in role
                                                                     else role))
                         for role in template_named(plan.panel).roles]
            for p in same:
                if state not in p["states"]:
                    p["states"].append(state)
                p["expired"] = p["expired"] - {state}
        _panel_licences(plans)
        # The story of issue 9: a patient in California with breast cancer finds a breast oncologist licensed
        # there (the consult-only rule of CA needs a CA licence for an opinion given directly to the patient).
        for p in [p for p in plans if p["specialty"] in STORY_SPECIALTIES][:2]:
            if "CA" not in p["states"]:
                p["states"].append("CA")
            p["expired"] = p["expired"] - {"CA"}
            p["capacity"] = max(p["capacity"], 6)
        # Whatever a newcomer signed in as the demo patient describes, someone can take it: a specialty nobody
        # licensed where she lives may take gets its first specialist licensed there (a gynaecology case got
        # stuck in California); one that a colleague there takes already (a subspecialist, or the parent
        # specialty's family as routing falls back to it) is left to them.
        from konsil.matching.scoring import may_take

        home = PATIENTS[next(key for key, spec in PATIENTS.items() if spec.login == "patient")].state
        for code in codes:
            at_home = {p["specialty"] for p in plans if home in p["states"] and home not in p["expired"]}
            first = next((p for p in plans if p["specialty"] == code), None)
            if first is not None and not at_home & may_take(code, fallback=True):
                first["states"].append(home)
                first["expired"] = first["expired"] - {home}
        return plans

    def patients(self) -> dict[str, Patient]:
        found = {}
        for key, spec in PATIENTS.items():
            user = self.users.get(spec.login) if spec.login else None
            # names are encrypted at rest: find the demo patient by birth date, then compare names in Python
            same_birth = Patient.objects.filter(Patient.matching_birth_date(spec.birth_date),
                                                network=self.orgs["network"])
            patient = next((p for p in same_birth
                            if (p.given_name, p.family_name) == (spec.given_name, spec.family_name)), None)
            created = patient is None
            if created:
                patient = Patient.objects.create(
                    network=self.orgs["network"], given_name=spec.given_name, family_name=spec.family_name,
                    birth_date=spec.birth_date, user=user, sex=spec.sex, state=spec.state, language=spec.language,
                    email=user.email if user else "", phone="+1 555 0100")
            if created:
                emit(actor=user or "seed", action="patient.create", obj=patient, patient_id=patient.pk)
            self.summary.count("patients", created)
            found[key] = patient
        rosa = found["rosa"]
        authorization, created = CaregiverAuthorization.objects.get_or_create(
            caregiver=self.users["caregiver"], patient=rosa,
            defaults={"relationship": "daughter", "signed_by": rosa.full_name, "signed_at": timezone.now()})
        if created:
            emit(actor=self.users["patient"], action="caregiver.authorize", obj=authorization,
                 patient_id=rosa.pk)
        self.summary.count("caregiver authorizations", created)
        return found

    # --- cases ---------------------------------------------------------------------------------------------

    def cases(self, patients: dict[str, Patient]) -> None:
        existing = set(Case.objects.filter(reference__in=[p.reference for p in CASES])
                       .values_list("reference", flat=True))
        for plan in CASES:
            if plan.reference not in existing:
                _CaseDriver(self, plan, patients[plan.patient]).run()
                self.summary.count("cases", True)


class _CaseDriver:
    """Drives one demo case through the real services to its planned status."""

    def __init__(self, seeder: _Seeder, plan: CasePlan, patient: Patient):
        self.s, self.plan, self.patient = seeder, plan, patient
        self.requester = seeder.users[plan.requester]
        self.coordinator = seeder.users["coordinator"]
        self.case: Case | None = None
        self.specialist: Specialist | None = None

    def run(self) -> Case:
        self.intake()
        for status in route(self.plan.status):
            getattr(self, f"to_{status}")()
        return self.case

    def go(self, actor, action: str, **params) -> None:
        self.case = cases.transition(actor=actor, case=self.case, action=action, **params)

    def intake(self) -> None:
        p = self.plan
        data = {
            "channel": p.channel, "urgency": p.urgency, "preferred_delivery": p.delivery,
            "proposed_treatment": p.treatment, "proposed_cpt": p.cpt, "clinical_summary": p.summary,
            "treating_physician": "Alan Placeholder, MD", "treating_physician_email": f"clinician@{DOMAIN}",
            "treating_facility": ORGS["hospital"][0],
            "interpreter_needed": self.patient.language not in ("en", "es"),
            "questions": [q for q, _a in p.questions], "diagnoses": list(p.codes),
        }
        sponsor = self.s.orgs[p.sponsor] if p.sponsor else None
        case = cases.create_case(actor=self.requester, network=self.s.orgs["network"], data=data,
                                 patient=self.patient, sponsor=sponsor)
        case.reference = p.reference  # a stable natural key, so a second run finds it
        case.save(update_fields=["reference"])
        own = self.patient.user_id == self.requester.pk  # else a clinician or coordinator refers the patient
        cases.sign_consent(actor=self.requester, case=case, scope=["obtain_records", "share_with_reviewers",
                                                                   "share_report"],
                           signer_name=self.patient.full_name if own else self.requester.get_full_name())
        if p.attachment:
            title = p.attachment.rsplit(".", 1)[0].replace("-", " ").capitalize()
            body = (f"{title}\nPatient: {self.patient.full_name}\nDOB: {self.patient.birth_date:%m/%d/%Y}\n\n"
                    f"{p.summary}\n\nSynthetic demo document, no real patient data.\n").encode()
            cases.add_attachment(actor=self.requester, case=case, description=title,
                                 upload=SimpleUploadedFile(p.attachment, body, content_type="text/plain"))
        if p.records:
            demo_records(actor=self.requester, case=case)
        self.case = case

    def candidate(self, exclude=()) -> Specialist:
        """The best-ranked directory specialist (matching's ranking, as the coordinator sees it)."""
        reserved = {f"specialist@{DOMAIN}", f"chair@{DOMAIN}"}
        for ranked in offers.ranked_for_offer(self.case):
            if ranked.specialist.user.email not in reserved and ranked.specialist.pk not in exclude:
                return ranked.specialist
        qs = candidates(self.case).exclude(user__email__in=reserved).exclude(pk__in=exclude).order_by("npi")
        found = qs.first()
        if found is None:
            raise RuntimeError(f"no demo specialist fits {self.plan.reference}")
        return found

    def opinion_data(self) -> dict:
        """The planned opinion, with the planned answers keyed by the case's question ids."""
        questions = list(self.case.questions.order_by("position"))
        answers = {str(q.pk): a for q, (_t, a) in zip(questions, self.plan.questions, strict=True) if a}
        return {**self.plan.opinion, **({"answers": answers} if answers else {})}

    # One method per status reached.
    def to_submitted(self) -> None:
        self.go(self.requester, "submit")
        triage.propose(case=self.case)

    def to_triaged(self) -> None:
        self.go(self.coordinator, "triage", specialty=self.plan.specialty, urgency=self.plan.urgency,
                reason=self.plan.triage_reason)
        if self.plan.declined_first:
            first = self.candidate()
            self.go(self.coordinator, "offer", specialist=str(first.pk), reason=OFFER_REASON)
            self.go(first.user, "decline", reason=self.plan.end_reason)
        if self.plan.panel:
            from konsil.opinions.panels import assemble_panel

            assemble_panel(actor=self.coordinator, case=self.case, template_code=self.plan.panel)
            self.case.refresh_from_db()

    def to_offered(self) -> None:
        if self.plan.panel:
            return  # convening the panel offered the case to its chair
        if self.plan.specialist == "specialist":
            self.specialist = self.s.users["specialist"].specialist
        else:
            self.specialist = self.candidate()
        self.go(self.coordinator, "offer", specialist=str(self.specialist.pk), reason=OFFER_REASON)

    def to_accepted(self) -> None:
        self.go(self.specialist.user, "accept")

    def to_in_review(self) -> None:
        self.go(self.specialist.user, "start_review")
        if self.plan.status == "in_review" and self.plan.opinion:
            opinions.save_draft(actor=self.specialist.user, case=self.case, data=self.opinion_data())

    def to_info_requested(self) -> None:
        self.go(self.specialist.user, "request_info", message=self.plan.end_reason)

    def to_opinion_drafted(self) -> None:
        opinions.save_draft(actor=self.specialist.user, case=self.case, data=self.opinion_data())
        self.go(self.specialist.user, "complete_draft")

    def to_signed(self) -> None:
        self.go(self.specialist.user, "sign")

    def to_delivered(self) -> None:
        self.go(self.coordinator, "deliver")
        if self.plan.amendment:
            self.go(self.specialist.user, "amend", reason=self.plan.amendment,
                    opinion={"further_tests": "Standing knee X-rays in six months; sooner if pain worsens."})
        if self.plan.follow_up:
            question, reply = self.plan.follow_up
            cases.post_message(actor=self.requester, case=self.case, body=question)
            cases.post_message(actor=self.specialist.user, case=self.case, body=reply)

    def to_closed(self) -> None:
        self.go(self.requester, "close")

    def to_cancelled(self) -> None:
        self.go(self.coordinator, "cancel", reason=self.plan.end_reason)

    def to_withdrawn(self) -> None:
        self.go(self.requester, "withdraw", reason=self.plan.end_reason)


ADULT_INSTITUTIONS = tuple(name for name in INSTITUTIONS if "Children" not in name)


def _institution(drawn: str, specialty: str, n: int) -> str:
    """`drawn`, unless it is a children's hospital and the specialty is not a pediatric one: an adult
    pulmonologist at a children's hospital puzzles whoever is matched with them."""
    if "Children" in drawn and not specialty.startswith("pediatric"):
        return ADULT_INSTITUTIONS[n % len(ADULT_INSTITUTIONS)]
    return drawn


def _panel_licences(plans: list[dict]) -> None:
    """Every panel template can convene for a patient in any demo patient's state: where no demo specialist of a
    role holds a licence there (Texas requires one), the first of the role gets it, with room for panel seats."""
    from konsil.opinions.panels import templates

    named = [{"specialty": code, "states": list(states), "expired": frozenset()}
             for _key, codes, states, *_rest in NAMED_SPECIALISTS for code in codes]
    for role in dict.fromkeys(role for template in templates() for role in template.roles):
        practising = [p for p in [*plans, *named] if p["specialty"] in role]
        first = next((p for code in role for p in plans if p["specialty"] == code), None)
        for state in PANEL_STATES:
            if first and not any(state in p["states"] and state not in p["expired"] for p in practising):
                if state not in first["states"]:
                    first["states"].append(state)
                first["expired"] = first["expired"] - {state}
                first["capacity"] = max(first["capacity"], 6)


def _totals() -> dict[str, int]:
    demo_users = User.objects.filter(email__endswith=f"@{DOMAIN}")
    specialists = Specialist.objects.filter(user__in=demo_users)
    return {
        "organizations": Organization.objects.filter(slug__in=[o[2] for o in ORGS.values()]).count(),
        "users": demo_users.count(),
        "specialists": specialists.count(),
        "specialties": Specialty.objects.filter(specialists__in=specialists).distinct().count(),
        "states": License.objects.filter(specialist__in=specialists).values("state").distinct().count(),
        "cases": Case.objects.filter(reference__startswith="K-DEMO").count(),
    }


def seed_demo() -> SeedSummary:
    """Create the demo data set (idempotent). Demo emails go nowhere: the mail backend is a dummy here."""
    summary = SeedSummary()
    token = context.set_current(context.RequestContext(channel="cli"))
    try:
        with (override_settings(EMAIL_BACKEND="django.core.mail.backends.dummy.EmailBackend"),
              transaction.atomic()):
            seeder = _Seeder(summary)
            seeder.organizations()
            seeder.logins()
            seeder.specialists()
            seeder.cases(seeder.patients())
            seed_programs(seeder)  # konsil.programs: employer and payer programs, rosters, program cases
            seeder.routing()
            from konsil.outcomes.demo import seed_consults_and_outcomes

            seed_consults_and_outcomes(summary)  # past consults, follow-ups, the cost table (issue 15)
            if summary.changed:
                emit(actor="seed", action="demo.seed", detail=dict(summary.created))
    finally:
        context.reset(token)
    summary.totals = _totals()
    return summary
