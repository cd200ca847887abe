"""Review findings on panels and blinded review: double submits and text the database refuses."""

import copy

import pytest

from konsil.cases.services import transition
from konsil.core.errors import Conflict, ValidationFailed
from konsil.opinions import blinded, panels
from konsil.opinions import services as opinions
from konsil.opinions.models import IndependentAssessment, Panel, PanelMember

from ..conftest import complete_opinion
from .test_blinded import blinded_case  # noqa: F401  (fixture)
from .test_panels import MONDAY, team  # noqa: F401  (fixtures; breast_case is in conftest)


def test_a_double_submitted_assembly_is_a_conflict_not_a_server_error(breast_case, coordinator, team,  # noqa: F811
                                                                      monkeypatch):
    transition(actor=coordinator, case=breast_case, action="offer", specialist=str(team["medical_oncology"].pk))
    real = panels.template_for

    def meanwhile(case, code=None):  # the first submit commits its panel while the second one ranks
        Panel.objects.create(case=case, template="breast_cancer", label="First", chair=team["medical_oncology"],
                             assembled_by=coordinator)
        return real(case, code)

    monkeypatch.setattr(panels, "template_for", meanwhile)
    with pytest.raises(Conflict) as exc:
        panels.assemble_panel(actor=coordinator, case=breast_case, now=MONDAY)
    assert exc.value.code == "panel_exists"


def test_a_double_submitted_agreement_is_recorded_once(breast_case, coordinator, team, monkeypatch):  # noqa: F811
    panel = panels.assemble_panel(actor=coordinator, case=breast_case, now=MONDAY)
    chair = team["medical_oncology"]
    for action in ("accept", "start_review"):
        transition(actor=chair.user, case=breast_case, action=action)
    breast_case.refresh_from_db()
    opinions.save_draft(actor=chair.user, case=breast_case, data=complete_opinion(breast_case))
    transition(actor=chair.user, case=breast_case, action="complete_draft")
    transition(actor=chair.user, case=breast_case, action="sign")
    radiologist = team["radiology"].user
    stale = PanelMember.objects.get(panel=panel, specialist=team["radiology"])  # read by both submits
    monkeypatch.setattr(panels, "_seat", lambda actor, panel: copy.copy(stale))
    panels.record_agreement(actor=radiologist, panel=panel, agreement="dissent", reason="Multifocal disease.")
    with pytest.raises(Conflict) as exc:
        panels.record_agreement(actor=radiologist, panel=panel, agreement="agree")
    assert exc.value.code == "already_recorded"
    seat = PanelMember.objects.get(pk=stale.pk)
    assert (seat.agreement, seat.dissent_reason) == ("dissent", "Multifocal disease.")


def test_nul_characters_in_panel_texts_are_field_errors(breast_case, coordinator, team):  # noqa: F811
    panel = panels.assemble_panel(actor=coordinator, case=breast_case, now=MONDAY)
    with pytest.raises(ValidationFailed) as exc:
        panels.submit_input(actor=team["radiology"].user, panel=panel, assessment="a\x00b", recommendation="ok")
    assert set(exc.value.as_dict()["errors"]) == {"assessment"}
    with pytest.raises(ValidationFailed):
        panels.dissolve_panel(actor=coordinator, panel=panel, reason="\x00")


def test_a_double_submitted_independent_assessment_is_a_conflict(blinded_case, specialist,  # noqa: F811
                                                                  monkeypatch):
    monkeypatch.setattr(blinded, "assessment_of", lambda case, reviewer: None)  # both submits passed the check
    blinded.record_assessment(actor=specialist.user, case=blinded_case, diagnosis_impression="Angina",
                              recommended_treatment="Medical therapy")
    with pytest.raises(Conflict) as exc:
        blinded.record_assessment(actor=specialist.user, case=blinded_case, diagnosis_impression="Angina",
                                  recommended_treatment="Medical therapy")
    assert exc.value.code == "already_recorded" and IndependentAssessment.objects.count() == 1


def test_nul_characters_in_the_independent_assessment_are_field_errors(blinded_case, specialist):  # noqa: F811
    with pytest.raises(ValidationFailed) as exc:
        blinded.record_assessment(actor=specialist.user, case=blinded_case, diagnosis_impression="x\x00",
                                  recommended_treatment="ok")
    assert set(exc.value.as_dict()["errors"]) == {"diagnosis_impression"}
