"""The demo data set: complete, deterministic, idempotent, built through the real services."""

from __future__ import annotations

import pytest
from django.apps import apps
from django.core.management import CommandError, call_command

from konsil import demo
from konsil.accounts.models import User
from konsil.accounts.roles import Role
from konsil.audit.models import AuditEvent
from konsil.audit.services import verify
from konsil.cases import relations as rel
from konsil.cases import selectors
from konsil.cases.models import Case
from konsil.cases.services import transition
from konsil.matching.models import License, Specialist
from konsil.matching.npi import is_valid_npi
from konsil.opinions import services as opinions
from konsil.triage import services as triage

pytestmark = pytest.mark.slow


@pytest.fixture
def seeded(db):
    return demo.seed_demo()


def model_counts() -> dict[str, int]:
    return {m._meta.label: m._default_manager.count() for m in apps.get_models()}


def user(key: str) -> User:
    return User.objects.get(email=f"{key}@{demo.DOMAIN}")


def test_second_run_changes_nothing(seeded):
    assert seeded.changed and seeded.created["cases"] == len(demo.CASES)
    before = model_counts()
    last_event = AuditEvent.objects.order_by("-seq").values_list("seq", "hash").first()

    again = demo.seed_demo()

    assert not again.changed
    assert model_counts() == before
    assert AuditEvent.objects.order_by("-seq").values_list("seq", "hash").first() == last_event
    assert again.totals == seeded.totals
    assert "nothing changed" in again.report()[0]


def test_directory_and_logins(seeded):
    specialists = Specialist.objects.filter(user__email__endswith=f"@{demo.DOMAIN}")
    assert 55 <= specialists.count() <= 65
    assert specialists.values("specialties").distinct().count() >= 20
    assert License.objects.filter(specialist__in=specialists).values("state").distinct().count() >= 15
    languages = {code for s in specialists for code in s.languages}
    assert {"en", "es", "ja", "zh"} <= languages
    assert all(is_valid_npi(s.npi) for s in specialists)
    assert len({s.npi for s in specialists}) == specialists.count()
    assert all(s.licenses.exists() and s.specialties.exists() and s.capacity > 0 for s in specialists)

    for role in Role:
        assert User.objects.filter(memberships__role=role, email__endswith=f"@{demo.DOMAIN}").exists(), role
    for login in demo.LOGINS:
        account = user(login.key)
        assert account.has_role(login.role)
        assert account.check_password(demo.PASSWORD)
    admin = user("admin")
    assert admin.is_staff and admin.is_superuser and admin.has_role(Role.ORG_ADMIN)
    # One hash for everyone: Argon2 runs once per seed, not once per user.
    assert User.objects.filter(email__endswith=f"@{demo.DOMAIN}").values("password").distinct().count() == 1

    # The demo specialist can take the demo patient's cases.
    specialist = user("specialist").specialist
    assert specialist.specialties.filter(code="cardiology").exists()
    assert specialist.licenses.filter(state=user("patient").patients.get().state).exists()
    assert {"en", "es"} <= set(specialist.languages)


def test_cases_cover_the_lifecycle_through_real_services(seeded):
    result = verify()
    assert result.ok, result.reason
    assert result.verified == AuditEvent.objects.count() > 100
    cases = Case.objects.filter(reference__startswith="K-DEMO")
    statuses = set(cases.values_list("status", flat=True))
    assert {"draft", "submitted", "triaged", "offered", "accepted", "in_review", "info_requested",
            "opinion_drafted", "signed", "delivered", "closed", "cancelled"} <= statuses
    for case in cases.exclude(status="draft"):
        steps = list(case.timeline.all())
        assert steps and steps[-1].to_status == case.status, case.reference
        assert case.triage_proposals.exists(), case.reference
        transitions = AuditEvent.objects.filter(object_id=str(case.pk), action__startswith="case.",
                                                outcome="success").exclude(action="case.create") \
            .exclude(action__startswith="case.code_")  # diagnosis code suggestions are no transitions
        assert transitions.count() == len(steps), case.reference
    for case in cases.filter(status__in=["signed", "delivered", "closed"]):
        assert opinions.verify_signature(opinions.latest_signed(case))
    assert cases.get(reference="K-DEMO10").opinions.filter(signed_at__isnull=False).count() == 2  # amended

    # Each role finds something to look at.
    rosa = user("patient")
    assert selectors.cases_for(rosa).count() >= 4
    assert set(selectors.cases_for(user("caregiver"))) == set(selectors.cases_for(rosa))
    assert selectors.cases_for(user("clinician")).filter(channel="clinician").exists()
    assert selectors.sponsored_cases_for(user("payer")).filter(channel="payer").exists()
    assert selectors.sponsored_cases_for(user("employer")).filter(channel="employer").exists()
    assert rel.OFFERED in rel.relations(user("specialist"), cases.get(reference="K-DEMO04"))
    draft = cases.get(reference="K-DEMO01")
    assert draft.status == "draft" and draft.patient.user == rosa


def test_a_newcomer_can_walk_the_fresh_draft_to_closed(seeded):
    rosa, coordinator, doctor = user("patient"), user("coordinator"), user("specialist")
    case = Case.objects.get(reference="K-DEMO01")
    case = transition(actor=rosa, case=case, action="submit")
    proposal = triage.propose(case=case)  # what the worker does after the submission commits
    case = transition(actor=coordinator, case=case, action="triage", specialty=proposal.specialty_id,
                      urgency="routine")
    case = transition(actor=coordinator, case=case, action="offer", specialist=str(doctor.specialist.pk),
                      reason="The demo's specialist login")  # not the top-ranked: an override
    case = transition(actor=doctor, case=case, action="accept")
    case = transition(actor=doctor, case=case, action="start_review")
    case = transition(actor=doctor, case=case, action="request_info", message="Which medicines do you take?")
    case = transition(actor=rosa, case=case, action="provide_info", message="Aspirin and a statin.")
    answers = {str(q.pk): "Medication first." for q in case.questions.all()}
    opinions.save_draft(actor=doctor, case=case, data={
        "diagnosis_verdict": "confirmed", "treatment_verdict": "modify", "answers": answers,
        "treatment_recommendation": "Medical therapy first.", "narrative": "Stable disease.",
        "confidence": "high"})
    for actor, action in ((doctor, "complete_draft"), (doctor, "sign"), (coordinator, "deliver"),
                          (rosa, "close")):
        case = transition(actor=actor, case=case, action=action)
    assert case.status == "closed"
    assert verify().ok


def test_a_failure_midway_leaves_nothing_behind(db, monkeypatch):
    events = AuditEvent.objects.count()

    def boom(self):
        raise RuntimeError("disk full")

    monkeypatch.setattr(demo._CaseDriver, "to_closed", boom)
    with pytest.raises(RuntimeError):
        demo.seed_demo()
    assert not User.objects.filter(email__endswith=f"@{demo.DOMAIN}").exists()
    assert not Case.objects.exists()
    assert AuditEvent.objects.count() == events


def test_seed_management_command(db, capsys):
    call_command("seed", "--demo")
    assert "Demo data created" in capsys.readouterr().out
    with pytest.raises(CommandError):
        call_command("seed")


def test_the_directory_plan_is_deterministic():
    first = demo._Seeder(demo.SeedSummary())._directory_plan()
    second = demo._Seeder(demo.SeedSummary())._directory_plan()
    assert first == second
    assert len(first) == demo.GENERATED_SPECIALISTS
    assert len({p["email"] for p in first}) == len(first)
    children = [p for p in first if "Children" in p["institution"]]
    assert all(p["specialty"] == "pediatrics" for p in children), children  # no adult pulmonologist there
    home = demo.PATIENTS["rosa"].state
    from konsil.matching.scoring import may_take

    licensed_home = {p["specialty"] for p in first if home in p["states"] and home not in p["expired"]}
    stuck = [row["code"] for row in demo.catalog.rows() if not licensed_home & may_take(row["code"], fallback=True)]
    assert stuck == []  # whatever the demo patient describes, someone licensed where she lives can take it


@pytest.mark.parametrize(("npi", "valid"), [("1234567893", True), ("1234567890", False), ("123456789", False),
                                            ("12345678a3", False)])
def test_npi_luhn_check(npi, valid):
    assert is_valid_npi(npi) is valid


def test_routes_follow_the_lifecycle():
    assert demo.route("draft") == []
    assert demo.route("offered") == ["submitted", "triaged", "offered"]
    assert demo.route("info_requested")[-2:] == ["in_review", "info_requested"]
    assert demo.route("cancelled") == ["submitted", "cancelled"]
    assert demo.route("closed")[-1] == "closed"


def test_every_panel_template_can_convene_in_every_demo_patients_state(seeded):
    from konsil.matching.selectors import directory
    from konsil.opinions.panels import templates

    for template in templates():
        for role in template.roles:
            for state in demo.PANEL_STATES:
                assert any(directory(specialty=code, state=state).filter(accepting=True).exists() for code in role), \
                    (template.code, role, state)


def test_a_texas_lung_cancer_case_gets_its_tumour_board(seeded):
    from konsil.opinions.panels import assemble_panel

    from .factories import make_draft, make_patient

    network = user("coordinator").memberships.get().organization
    patient_user = user("caregiver")
    make_patient(network, patient_user, state="TX", language="en")
    case = make_draft(network, patient_user, codes=("C34.11",), questions=("Surgery or radiation?",))
    transition(actor=patient_user, case=case, action="submit")
    case.refresh_from_db()
    if case.status == "submitted":
        case = transition(actor=user("coordinator"), case=case, action="triage", specialty="pulmonology",
                          urgency="urgent")
    panel = assemble_panel(actor=user("coordinator"), case=case)
    assert panel.template == "lung_cancer" and panel.members.count() == 6 and not panel.open_seats.exists()


def test_every_case_a_program_sponsor_funds_belongs_to_its_program(seeded):
    """The story cases funded by the employer were seeded before its program: they are enrolled in it, so that
    the program's cases, billing and analytics count them (none is listed under "no program recorded")."""
    from konsil.cases.models import Case
    from konsil.programs.models import Program

    funded = Case.objects.filter(sponsor__in=Program.objects.values("sponsor"))  # not a hospital's own referrals
    assert funded.filter(reference__startswith="K-DEMO").exists()
    assert not funded.filter(enrollment__isnull=True).exists()
    assert all(case.enrollment.program.sponsor_id == case.sponsor_id for case in funded.select_related(
        "enrollment__program"))
