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
