"""The demo's programs: the employer roster from the shipped 834, the payer's mandated reviews, program cases."""

from __future__ import annotations

import pytest

from konsil.programs.models import Determination, Enrollment, Mandate, Member, Program

pytestmark = [pytest.mark.slow]


@pytest.mark.django_db
def test_demo_programs():
    from konsil.demo import seed_demo

    seed_demo()
    employer = Program.objects.get(slug="acme-benefit")
    assert Member.objects.filter(program=employer).count() >= 500
    payer = Program.objects.get(slug="evergreen-mandates")
    assert set(payer.mandated_procedures.values_list("cpt", flat=True)) >= {"22630", "43644"}
    assert Enrollment.objects.count() >= 12
    outcomes = dict(Determination.objects.values_list("mandate__cpt", "outcome"))
    assert outcomes == {"22630": "against", "43644": "modify"}
    assert Mandate.objects.filter(state="invited").count() == 1
    before = Enrollment.objects.count()
    assert not seed_demo().created.get("program cases")
    assert Enrollment.objects.count() == before


@pytest.mark.django_db
def test_demo_history_program_cases_can_be_claimed():
    """The history's delivered program cases are about members on the program's roster and carry a diagnosis
    code: the payer demo's billing page makes a valid 837P from them, not "no member" or "no diagnosis"."""
    from konsil.accounts.models import Membership
    from konsil.analytics.history import seed_history
    from konsil.demo import seed_demo
    from konsil.programs import billing, x12

    seed_demo()
    seed_history(200)
    history = Enrollment.objects.filter(case__reference__startswith="H-", case__status="delivered",
                                        program__slug="evergreen-mandates").select_related("case", "member")
    covered = [e for e in history if e.case.submitted_at.date() >= Member.objects.filter(
        program=e.program).earliest("coverage_start").coverage_start]  # before the roster starts: no member
    assert len(covered) >= 5 and len({e.member_id for e in covered}) >= 5
    assert all(e.member is not None and e.case.diagnoses.exists() for e in covered)
    assert all(e.member.coverage_start <= e.case.submitted_at.date() for e in history if e.member)
    enrollment = covered[0]
    patient = enrollment.case.patient
    assert (patient.family_name, patient.birth_date) == (enrollment.member.family_name, enrollment.member.birth_date)
    admin = Membership.objects.filter(organization=enrollment.case.network, role="coordinator").first().user
    claim = billing.make_claim(actor=admin, enrollment=enrollment)
    assert x12.validate(claim.x12, expect="837").valid
