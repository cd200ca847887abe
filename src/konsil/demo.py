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
    ("chair", ("medical_oncology", "breast_oncology"), ("CA", "NY", "TX", "WA"), ("en", "hi"),
     "Lakeshore Cancer Center", 6),
)

STORY_SPECIALTIES = ("breast_oncology",)  # licensed in CA: the breast-cancer story of issue 9
STATES = ("CA", "TX", "NY", "FL", "IL", "PA", "OH", "GA", "NC", "MI", "NJ", "VA", "WA", "AZ", "MA", "TN",
          "IN", "MO", "MD", "CO", "MN", "OR")
TIME_ZONES = {"CA": "America/Los_Angeles", "WA": "America/Los_Angeles", "OR": "America/Los_Angeles",
              "NV": "America/Los_Angeles", "AZ": "America/Phoenix", "CO": "America/Denver",
              "TX": "America/Chicago", "IL": "America/Chicago", "TN": "America/Chicago",
              "MO": "America/Chicago", "MN": "America/Chicago"}
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


@dataclass(frozen=True)
class PatientSpec:
    given_name: str
    family_name: str
    birth_date: dt.date
    sex: str
    state: str
    language: str
    login: str | None = None  # key of a demo login when the patient signs in


PATIENTS = {
    "rosa": PatientSpec("Rosa", "Ejemplo", dt.date(1968, 4, 12), "female", "CA", "es", login="patient"),
    "kenji": PatientSpec("Kenji", "Mihon", dt.date(1958, 9, 3), "male", "CA", "ja"),
    "linh": PatientSpec("Linh", "Mau", dt.date(1975, 1, 22), "female", "TX", "vi"),
    "omar": PatientSpec("Omar", "Sample", dt.date(1962, 11, 30), "male", "CA", "en"),
    "mei": PatientSpec("Mei", "Yangben", dt.date(1980, 6, 8), "female", "WA", "zh"),
    "sam": PatientSpec("Sam", "Testwell", dt.date(1971, 2, 14), "male", "FL", "en"),
    "aiko": PatientSpec("Aiko", "Rei", dt.date(1966, 7, 19), "female", "NY", "ja"),
    "tom": PatientSpec("Tom", "Dummyson", dt.date(1955, 3, 2), "male", "IL", "en"),
    "grace": PatientSpec("Grace", "Exemplar", dt.date(1949, 12, 5), "female", "OH", "en"),
    "ivan": PatientSpec("Ivan", "Primer", dt.date(1960, 10, 27), "male", "NY", "ru"),
}


@dataclass(frozen=True)
class CasePlan:
    """One demo case and the path it takes. `specialist`: "specialist" (the demo login) or "directory"."""

    reference: str
    status: str
    patient: str
    requester: str  # demo login key
    channel: str
    sponsor: str | None
    codes: tuple[str, ...]
    questions: tuple[tuple[str, str], ...]  # (question, the specialist's answer)
    treatment: str
    specialty: str  # confirmed at triage
    cpt: str = ""
    urgency: str = "routine"
    delivery: str = "written"
    summary: str = ""
    specialist: str = "directory"
    triage_reason: str = ""
    declined_first: bool = False
    attachment: str = ""
    records: bool = False  # a zipped CD export with a CT study and a FHIR health-record export
    panel: str = ""  # a multidisciplinary panel template convened after triage (opinions/data/panel_templates.csv)
    opinion: dict = field(default_factory=dict)
    amendment: str = ""
    follow_up: tuple[str, str] | None = None  # (patient's question, specialist's reply) after delivery
    end_reason: str = ""


CASES = (
    CasePlan(
        "K-DEMO01", "draft", "rosa", "patient", "patient", None, ("I25.10", "I10"),
        (("Do I need a coronary stent, or can medication alone control my symptoms?", ""),
         ("What are the risks of waiting three months?", "")),
        "Percutaneous coronary intervention with a drug-eluting stent", "cardiology", cpt="92928",
        summary="Chest tightness on exertion for four months; CT angiography shows a 70% LAD narrowing.",
    ),
    CasePlan(
        "K-DEMO02", "submitted", "kenji", "clinician", "clinician", "hospital", ("I20.9", "I25.10"),
        (("Is bypass surgery better than stenting for my father's arteries?", ""),),
        "Coronary artery bypass grafting", "interventional_cardiology", cpt="33533",
        summary="Angina at rest twice this month; two-vessel disease on catheterization.",
    ),
    CasePlan(
        "K-DEMO03", "offered", "linh", "coordinator", "payer", "payer", ("C50.911",),
        (("Is a mastectomy necessary, or is breast-conserving surgery an option?", ""),
         ("Should I have chemotherapy before surgery?", "")),
        "Right mastectomy followed by adjuvant chemotherapy", "breast_oncology", cpt="19303",
        urgency="urgent", summary="2.4 cm invasive ductal carcinoma, ER+/HER2-, one suspicious lymph node.",
        declined_first=True, end_reason="At capacity this month; please offer to a colleague.",
        panel="breast_cancer",
    ),
    CasePlan(
        "K-DEMO04", "offered", "omar", "clinician", "clinician", "hospital", ("I48.91",),
        (("Should I have a catheter ablation or keep taking medication?", ""),),
        "Catheter ablation of atrial fibrillation", "cardiology", cpt="93656", specialist="specialist",
        triage_reason="General cardiology review first; electrophysiology if ablation is favoured.",
        summary="Paroxysmal atrial fibrillation, two emergency visits this year despite beta-blockers.",
    ),
    CasePlan(
        "K-DEMO05", "accepted", "mei", "coordinator", "employer", "employer", ("M54.16",),
        (("Will spinal fusion relieve my leg pain?", ""), ("Are there non-surgical options left?", "")),
        "L4-L5 spinal fusion", "spine_surgery", cpt="22612", delivery="video",
        summary="Left leg pain for 9 months; MRI shows L4-L5 disc herniation; physical therapy did not help.",
    ),
    CasePlan(
        "K-DEMO06", "in_review", "rosa", "patient", "employer", "employer", ("I35.0",),
        (("Is valve replacement through a catheter (TAVR) right for me?", ""),),
        "Transcatheter aortic valve replacement", "cardiology", cpt="33361", specialist="specialist",
        summary="Moderate-to-severe aortic stenosis on echocardiogram; short of breath climbing stairs.",
        attachment="echocardiogram-report.txt", records=True,
        opinion={"diagnosis_verdict": "confirmed", "narrative": "Draft: reviewing the echocardiogram."},
    ),
    CasePlan(
        "K-DEMO07", "info_requested", "rosa", "patient", "patient", None, ("R07.9", "I10"),
        (("Is my chest pain coming from my heart?", ""),),
        "Coronary angiography", "cardiology", cpt="93454", specialist="specialist",
        summary="Intermittent chest pain at rest; normal ECG; blood pressure 150/95 on two medications.",
        end_reason="Please upload your most recent stress test and list the medications you take.",
    ),
    CasePlan(
        "K-DEMO08", "opinion_drafted", "sam", "clinician", "clinician", "hospital", ("K50.90",),
        (("Should he start a biologic now or try another course of steroids?", "Start a biologic now."),),
        "Another course of oral prednisone", "gastroenterology",
        summary="Crohn's disease with three flares in a year; steroid dependent.",
        opinion={"diagnosis_verdict": "confirmed", "treatment_verdict": "alternative",
                 "treatment_recommendation": "Start an anti-TNF biologic; avoid repeated steroid courses.",
                 "further_tests": "Fecal calprotectin; MR enterography.", "confidence": "high",
                 "narrative": "Steroid-dependent Crohn's disease meets the criteria for biologic therapy."},
    ),
    CasePlan(
        "K-DEMO09", "signed", "aiko", "coordinator", "payer", "payer", ("C34.11",),
        (("Is surgery possible, or only radiation?", "Surgery (lobectomy) is possible and preferred."),),
        "Stereotactic body radiation therapy", "pulmonology", urgency="urgent",
        summary="2.1 cm right upper lobe adenocarcinoma, no nodal disease on PET-CT; FEV1 78%.",
        opinion={"diagnosis_verdict": "confirmed", "treatment_verdict": "alternative",
                 "treatment_recommendation": "Refer for lobectomy; lung function allows surgery.",
                 "further_tests": "Brain MRI before surgery.", "confidence": "high",
                 "narrative": "Stage IA lung cancer in a patient fit for surgery: lobectomy is standard."},
    ),
    CasePlan(
        "K-DEMO10", "delivered", "rosa", "patient", "payer", "payer", ("M17.11",),
        (("Do I need a total knee replacement now?", "Not yet: a structured exercise program first."),
         ("How long would recovery take?", "About three months to return to normal activities.")),
        "Total right knee arthroplasty", "orthopedic_surgery", cpt="27447", delivery="video",
        summary="Right knee pain for two years; X-ray shows moderate arthritis; no physical therapy yet.",
        attachment="knee-xray-report.txt",
        opinion={"diagnosis_verdict": "confirmed", "treatment_verdict": "modify",
                 "treatment_recommendation": "Twelve weeks of physical therapy and weight management first.",
                 "further_tests": "Standing knee X-rays in six months.", "confidence": "moderate",
                 "narrative": "Moderate osteoarthritis without a trial of conservative care."},
        amendment="Added the follow-up imaging interval.",
    ),
    CasePlan(
        "K-DEMO11", "closed", "rosa", "patient", "employer", "employer", ("G43.909",),
        (("Are my migraines a sign of something serious?", "No: the pattern and the normal MRI reassure."),),
        "Daily topiramate", "neurology",
        summary="Migraines twice a week for a year; normal brain MRI.",
        opinion={"diagnosis_verdict": "confirmed", "treatment_verdict": "agree",
                 "further_tests": "", "confidence": "high",
                 "narrative": "Episodic migraine; preventive therapy is appropriate."},
        follow_up=("Can I take topiramate while breastfeeding?", "Please discuss it with your obstetrician; "
                   "a different preventive may be preferred while breastfeeding."),
    ),
    CasePlan(
        "K-DEMO12", "cancelled", "tom", "clinician", "clinician", "hospital", ("N18.4",),
        (("Is it time to prepare for dialysis?", ""),),
        "Arteriovenous fistula placement", "nephrology",
        summary="Stage 4 chronic kidney disease, eGFR 22.",
        end_reason="Duplicate referral: the patient is already under review in another program.",
    ),
    CasePlan(
        "K-DEMO13", "withdrawn", "grace", "clinician", "clinician", "hospital", ("M05.79",),
        (("Should she switch to a biologic?", ""),),
        "Switch from methotrexate to a biologic", "rheumatology",
        summary="Seropositive rheumatoid arthritis with active disease on methotrexate.",
        end_reason="The patient decided to continue with her local rheumatologist.",
    ),
    CasePlan(
        "K-DEMO14", "triaged", "ivan", "coordinator", "payer", "payer", ("J84.10",),
        (("Is this idiopathic pulmonary fibrosis, and should I start antifibrotic medication?", ""),),
        "Antifibrotic therapy", "pulmonology", urgency="urgent",
        summary="Progressive shortness of breath; CT shows basal reticulation.",
    ),
)

PATH = ("submitted", "triaged", "offered", "accepted", "in_review", "opinion_drafted", "signed", "delivered",
        "closed")


def route(status: str) -> list[str]:
    """The statuses a demo case passes through to reach `status`, in order."""
    if status == "draft":
        return []
    if status == "cancelled":
        return ["submitted", "cancelled"]
    if status == "withdrawn":
        return ["submitted", "triaged", "withdrawn"]
    if status == "info_requested":
        return [*PATH[: PATH.index("in_review") + 1], "info_requested"]
    return list(PATH[: PATH.index(status) + 1])


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
                "languages": languages, "institution": rng.choice(INSTITUTIONS),
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
        # The story of issue 9: a patient in California with breast cancer finds a breast oncologist licensed
        # there (the consult-only rule of CA needs a CA licence for an opinion given directly to the patient).
        for p in [p for p in plans if p["specialty"] in STORY_SPECIALTIES][:2]:
            if "CA" not in p["states"]:
                p["states"].append("CA")
            p["expired"] = p["expired"] - {"CA"}
            p["capacity"] = max(p["capacity"], 6)
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
        cases.sign_consent(actor=self.requester, case=case, scope=["obtain_records", "share_with_reviewers",
                                                                   "share_report"],
                           signer_name=self.patient.full_name)
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


DEMO_CT_SLICES = 64


def demo_records(*, actor, case) -> None:
    """The TAVR case's records, all of its own patient: a CD export (a synthetic chest CT for valve planning,
    DICOMDIR and viewer junk, zipped) and a Synthea FHIR export carried over to the case's patient, with the
    aortic stenosis of the case among its conditions."""
    import io
    import tempfile
    import zipfile
    from pathlib import Path

    from konsil.records import synthetic
    from konsil.records.intake import store_record

    name = f"{case.patient.family_name}^{case.patient.given_name}"
    slices = [_as_chest_ct(raw, level) for level, raw in enumerate(synthetic.ct_series(
        DEMO_CT_SLICES, size=256, patient_name=name, seed=7, birth_date=case.patient.birth_date.strftime("%Y%m%d")))]
    buffer = io.BytesIO()
    with tempfile.TemporaryDirectory() as folder, zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        synthetic.dicomdir_export(slices, Path(folder))
        for path in sorted(Path(folder).rglob("*")):
            if path.is_file():
                zf.write(path, path.relative_to(folder).as_posix())
    store_record(actor=actor, case=case, content=buffer.getvalue(), filename="CD export.zip",
                 description="Chest CT angiography for TAVR planning (synthetic)")
    store_record(actor=actor, case=case, content=_own_fhir_record(case.patient), filename="health-record.json",
                 description="Health record export (FHIR, synthetic)")


# a chest phantom: (x0, y0, a, b, angle, HU), image axes -1..1, y up
_CHEST = ((0.0, 0.0, 0.88, 0.62, 0, 40),  # body (soft tissue)
          (-0.42, 0.05, 0.3, 0.42, 0, -850), (0.42, 0.05, 0.3, 0.42, 0, -850),  # lungs
          (0.08, 0.08, 0.2, 0.17, 20, 200),  # heart, its chambers with contrast
          (0.0, 0.26, 0.05, 0.05, 0, 300),  # ascending aorta with contrast
          (0.03, 0.16, 0.035, 0.035, 0, 650),  # a calcified aortic valve
          (0.0, -0.45, 0.08, 0.08, 0, 700), (0.0, 0.52, 0.06, 0.03, 0, 700))  # spine and sternum


def _as_chest_ct(raw: bytes, level: int) -> bytes:
    """A slice of the synthetic CT made a chest slice: the chest phantom and the headers that say so."""
    import io

    import numpy as np
    import pydicom
    from pydicom.pixels import set_pixel_data

    from konsil.records import synthetic

    ds = pydicom.dcmread(io.BytesIO(raw))
    size = int(ds.Rows)
    grid = (np.arange(size, dtype=np.float32) + 0.5) / size * 2 - 1
    image = np.full((size, size), synthetic.AIR_HU, dtype=np.int16)
    for index, (x0, y0, a, b, angle, hu) in enumerate(_CHEST):
        if index == 5 and abs(level - DEMO_CT_SLICES // 2) > 4:
            continue  # the valve shows on a few slices only
        synthetic._paint_ellipse(image, grid, (x0, y0, a, b, angle), hu)
    set_pixel_data(ds, (image - synthetic.RESCALE_INTERCEPT).astype(np.int16), "MONOCHROME2", 16,
                   generate_instance_uid=False)
    ds.update({"StudyDescription": "CT angiography chest (TAVR planning)", "SeriesDescription": "Chest 1.0 axial",
               "BodyPartExamined": "CHEST"})
    out = io.BytesIO()
    ds.save_as(out, enforce_file_format=True)
    return out.getvalue()


def _own_fhir_record(patient) -> bytes:
    """The Synthea sample bundle carried over to `patient` (name, sex, birth date, state), with aortic stenosis."""
    import gzip
    import json
    from importlib import resources

    raw = resources.files("konsil.records").joinpath("data/demo/synthea-sample.json.gz").read_bytes()
    bundle = json.loads(gzip.decompress(raw))
    subject = None
    for entry in bundle["entry"]:
        resource = entry["resource"]
        if resource["resourceType"] == "Patient":
            subject = entry.get("fullUrl") or f"Patient/{resource['id']}"
            resource.pop("text", None)
            resource["extension"] = [x for x in resource.get("extension", [])
                                     if not x.get("url", "").endswith(("birthPlace", "mothersMaidenName"))]
            resource["name"] = [{"use": "official", "family": patient.family_name, "given": [patient.given_name]}]
            resource["gender"] = {"female": "female", "male": "male"}.get(patient.sex, "unknown")
            resource["birthDate"] = patient.birth_date.isoformat()
            for address in resource.get("address", []):
                address.pop("extension", None)
                address.update({"state": patient.state or "", "city": "", "line": [], "postalCode": ""})
    onset = (timezone.localdate() - dt.timedelta(days=120)).isoformat()
    bundle["entry"].append({"fullUrl": "urn:uuid:5e1d7c1a-0b7e-4c39-9d0e-7a3f2c1b0a61", "resource": {
        "resourceType": "Condition", "id": "5e1d7c1a-0b7e-4c39-9d0e-7a3f2c1b0a61",
        "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                                       "code": "active"}]},
        "code": {"coding": [{"system": "http://snomed.info/sct", "code": "60573004",
                             "display": "Aortic valve stenosis (disorder)"}], "text": "Aortic valve stenosis"},
        "subject": {"reference": subject}, "onsetDateTime": onset}, "request": {"method": "POST", "url": "Condition"}})
    text = json.dumps(bundle)
    return text.replace("Desmond", patient.given_name).replace("Gutmann", patient.family_name).encode()


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
