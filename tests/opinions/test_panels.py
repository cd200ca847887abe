"""Multidisciplinary panels: templates, assembly (every role, a chair, a common slot), inputs, consensus, dissent."""

import datetime as dt

import pytest
from django.template.loader import render_to_string
from django.urls import reverse

from konsil.accounts.roles import Role
from konsil.audit.models import AuditEvent
from konsil.cases.models import Notification
from konsil.cases.services import transition
from konsil.core.errors import Conflict, PermissionDenied, ValidationFailed
from konsil.matching.models import Specialty
from konsil.opinions import meeting, panels, report
from konsil.opinions import services as opinions
from konsil.opinions.models import Panel, PanelMember

from ..conftest import complete_opinion
from ..factories import make_draft, make_specialist, make_user

BREAST_ROLES = ["medical_oncology", "surgical_oncology", "radiation_oncology", "pathology", "radiology"]
MONDAY = dt.datetime(2026, 12, 7, 0, 0, tzinfo=dt.UTC)


@pytest.fixture
def team(network):
    """One eligible member per breast-cancer role (CA licences), plus a weaker radiologist and one out of state."""
    people = {code: make_specialist(network, specialty=code, states=("CA",), last_name=code.title())
              for code in BREAST_ROLES}
    people["medical_oncology"].time_zone = "America/New_York"
    people["medical_oncology"].availability = [{"day": 0, "start": "09:00", "end": "12:00"}]
    people["surgical_oncology"].time_zone = "America/Los_Angeles"
    people["surgical_oncology"].availability = [{"day": 0, "start": "08:00", "end": "10:00"}]
    people["radiology"].on_time_rate = 1.0
    for s in people.values():
        s.save()
    weak = make_specialist(network, specialty="radiology", states=("CA",), last_name="Weak")
    weak.on_time_rate = 0.1
    weak.save()
    make_specialist(network, specialty="pathology", states=("TX",), last_name="Texan")
    return people


def _assemble(coordinator, case, **kwargs):
    return panels.assemble_panel(actor=coordinator, case=case, now=MONDAY, **kwargs)


def test_templates_are_cited_catalog_codes(db):
    codes = {t.code for t in panels.templates()}
    assert {"breast_cancer", "complex_spine", "lung_cancer", "colorectal_cancer", "prostate_cancer",
            "heart_team"} <= codes
    catalog = set(Specialty.objects.values_list("code", flat=True))
    for template in panels.templates():
        assert template.source
        assert all(code in catalog for role in template.roles for code in role)
    spine = panels.template_named("complex_spine")
    assert spine.roles[0] == ("spine_surgery", "orthopedic_surgery", "neurosurgery")


def test_breast_cancer_case_gets_a_full_panel_with_chair_and_common_slot(breast_case, coordinator, team):
    panel = _assemble(coordinator, breast_case)
    members = list(panel.members.order_by("position"))
    assert [m.role_id for m in members] == BREAST_ROLES
    assert {m.specialist_id for m in members} == {s.pk for s in team.values()}  # best radiologist, CA pathologist
    assert panel.template == "breast_cancer"
    assert panel.chair == team["medical_oncology"]
    # Monday: New York 09-12 ET (14-17 UTC), Los Angeles 08-10 PT (16-18 UTC), others 09-17 local by default
    assert panel.meeting_at == dt.datetime(2026, 12, 7, 16, 0, tzinfo=dt.UTC)
    breast_case.refresh_from_db()
    assert breast_case.status == "offered"
    assert breast_case.offers.get(status="pending").specialist == team["medical_oncology"]
    invited = set(Notification.objects.filter(case=breast_case, kind="panel_invite").values_list("user", flat=True))
    assert invited == {s.user_id for s in team.values()}
    assert AuditEvent.objects.filter(action="panel.assemble", object_id=str(panel.pk)).exists()
    with pytest.raises(Conflict) as exc:
        _assemble(coordinator, breast_case)
    assert exc.value.code == "panel_exists"


def test_unfillable_role_is_named_and_nothing_is_saved(breast_case, coordinator, network):
    for code in BREAST_ROLES:
        if code != "pathology":
            make_specialist(network, specialty=code, states=("CA",))
    make_specialist(network, specialty="pathology", states=("TX",))  # not licensed where the patient is
    with pytest.raises(Conflict) as exc:
        _assemble(coordinator, breast_case)
    assert exc.value.code == "unfilled_roles"
    assert "Anatomic and Clinical Pathology" in str(exc.value.message)
    assert not Panel.objects.exists() and not PanelMember.objects.exists()
    breast_case.refresh_from_db()
    assert breast_case.status == "triaged" and not breast_case.offers.exists()


def test_nobody_fills_two_roles(breast_case, coordinator, network):
    both = make_specialist(network, specialty="radiology", states=("CA",))
    both.specialties.add("pathology")
    for code in BREAST_ROLES[:3]:
        make_specialist(network, specialty=code, states=("CA",))
    with pytest.raises(Conflict) as exc:
        _assemble(coordinator, breast_case)
    assert list(exc.value.errors) in (["pathology"], ["radiology"])
    make_specialist(network, specialty="pathology", states=("CA",))
    panel = _assemble(coordinator, breast_case)
    assert panel.members.count() == 5
    assert panel.members.get(role="radiology").specialist == both


def test_only_a_coordinator_assembles_and_unknown_template_is_a_field_error(breast_case, coordinator, team,
                                                                             patient_user):
    with pytest.raises(PermissionDenied):
        panels.assemble_panel(actor=patient_user, case=breast_case)
    with pytest.raises(ValidationFailed) as exc:
        _assemble(coordinator, breast_case, template_code="nonsense")
    assert exc.value.field == "template"


def test_common_slot_respects_time_zones_and_defaults():
    ny = ([{"day": 0, "start": "09:00", "end": "10:00"}], "America/New_York")
    berlin = ([{"day": 0, "start": "15:00", "end": "16:30"}], "Europe/Berlin")
    assert meeting.common_slot([ny, berlin], now=MONDAY) == dt.datetime(2026, 12, 7, 14, 0, tzinfo=dt.UTC)
    short = ([{"day": 0, "start": "15:00", "end": "15:30"}], "Europe/Berlin")
    assert meeting.common_slot([ny, short], now=MONDAY) is None
    # no availability recorded: weekdays 09-17 in the member's zone (unknown zone: UTC)
    assert meeting.common_slot([([], "Nowhere/City")], now=MONDAY) == dt.datetime(2026, 12, 7, 9, 0, tzinfo=dt.UTC)
    saturday = dt.datetime(2026, 12, 12, 10, 7, tzinfo=dt.UTC)
    assert meeting.common_slot([([], "UTC")], now=saturday) == dt.datetime(2026, 12, 14, 9, 0, tzinfo=dt.UTC)


def _form(data: dict) -> dict:
    answers = data.pop("answers")
    data.update({f"answer_{qid}": text for qid, text in answers.items()})
    return data


def test_inputs_consensus_and_dissent_reach_the_report(client, login, breast_case, coordinator, team):
    panel = _assemble(coordinator, breast_case)
    chair = team["medical_oncology"]
    surgeon, radiologist = team["surgical_oncology"], team["radiology"]
    url = reverse("opinions:panel", args=[breast_case.pk])

    login(client, surgeon.user)
    page = client.get(url).content.decode()
    assert "Breast cancer tumour board" in page and "Mastectomy followed by chemotherapy" in page
    response = client.post(reverse("opinions:panel_input", args=[breast_case.pk]),
                           {"assessment": "", "recommendation": "Lumpectomy"})
    assert response.status_code == 400
    assert "This field is required." in response.content.decode()
    assert not PanelMember.objects.get(specialist=surgeon).submitted_at
    response = client.post(reverse("opinions:panel_input", args=[breast_case.pk]),
                           {"assessment": "T2 N0, breast conserving surgery feasible.",
                            "recommendation": "Lumpectomy with sentinel node biopsy."})
    assert response.status_code == 302
    for code, s in team.items():
        if code != "surgical_oncology":
            panels.submit_input(actor=s.user, panel=panel, assessment=f"{code} view", recommendation="Proceed.")
    assert panels.stage(panel) == "consensus"
    client.logout()

    login(client, chair.user)  # the chair sees every input, on the panel page and the review screen
    page = client.get(url).content.decode()
    assert "Lumpectomy with sentinel node biopsy." in page
    assert "Writes the consensus" in page and "Wrote the consensus" not in page  # not yet written
    for action in ("accept", "start_review"):
        transition(actor=chair.user, case=breast_case, action=action)
    review = client.get(reverse("opinions:review", args=[breast_case.pk])).content.decode()
    assert "Lumpectomy with sentinel node biopsy." in review
    response = client.post(reverse("opinions:review", args=[breast_case.pk]),
                           {**_form(complete_opinion(breast_case)), "action": "complete_draft"})
    assert response.status_code == 302
    transition(actor=chair.user, case=breast_case, action="sign")
    client.logout()

    login(client, radiologist.user)
    agreement_url = reverse("opinions:panel_agreement", args=[breast_case.pk])
    response = client.post(agreement_url, {"agreement": "dissent", "dissent_reason": ""})
    assert response.status_code == 400 and "This field is required." in response.content.decode()
    response = client.post(agreement_url, {"agreement": "maybe"})
    assert response.status_code == 400 and "Choose whether you agree or dissent." in response.content.decode()
    response = client.post(agreement_url, {"agreement": "dissent",
                                           "dissent_reason": "MRI suggests multifocal disease; mastectomy."})
    assert response.status_code == 302
    assert client.post(agreement_url, {"agreement": "agree"}).status_code == 409
    client.logout()
    panels.record_agreement(actor=surgeon.user, panel=panel, agreement="agree")
    with pytest.raises(Conflict):
        panels.record_agreement(actor=chair.user, panel=panel, agreement="agree")

    login(client, coordinator)
    assert "Wrote the consensus" in client.get(url).content.decode()
    page = client.get(reverse("opinions:report", args=[breast_case.pk])).content.decode()
    assert 'id="panel-report-h"' in page
    assert "MRI suggests multifocal disease; mastectomy." in page
    assert "Diagnostic Radiology" in page and "chair" in page
    printed = render_to_string("opinions/report_print.html", report.report_context(breast_case))
    assert "MRI suggests multifocal disease; mastectomy." in printed and "Dissents" in printed
    assert AuditEvent.objects.filter(action="panel.dissent", actor=radiologist.user).exists()
    assert Notification.objects.filter(case=breast_case, kind="panel_dissent", user=coordinator).exists()
    assert opinions.latest_signed(breast_case).author == chair


def test_inputs_close_once_the_consensus_is_signed_and_agreement_waits_for_it(breast_case, coordinator, team):
    panel = _assemble(coordinator, breast_case)
    with pytest.raises(Conflict) as exc:
        panels.record_agreement(actor=team["radiology"].user, panel=panel, agreement="agree")
    assert exc.value.code == "no_consensus"
    with pytest.raises(PermissionDenied):
        panels.submit_input(actor=coordinator, panel=panel, assessment="x", recommendation="y")


def test_panel_pages_only_for_members_and_coordinators(client, login, breast_case, coordinator, team, network,
                                                       patient_user, other_coordinator):
    url = reverse("opinions:panel", args=[breast_case.pk])
    outsider = make_specialist(network, specialty="radiology", states=("CA",))
    login(client, coordinator)
    page = client.get(url)
    assert page.status_code == 200 and "Assemble the panel" in page.content.decode()
    assert "Breast cancer tumour board" in page.content.decode()  # the automatic choice
    assert client.post(reverse("opinions:panel_assemble", args=[breast_case.pk]), {}).status_code == 302
    assert "Breast cancer tumour board" in client.get(url).content.decode()
    client.logout()
    for user in (outsider.user, patient_user, other_coordinator, make_user(Role.AUDITOR, network)):
        login(client, user)
        assert client.get(url).status_code == 404
        assert client.post(reverse("opinions:panel_input", args=[breast_case.pk]),
                           {"assessment": "x", "recommendation": "y"}).status_code == 404
        client.logout()
    login(client, team["pathology"].user)
    assert client.get(url).status_code == 200
    assert AuditEvent.objects.filter(action="panel.read", actor=outsider.user, outcome="denied").exists()
    assert AuditEvent.objects.filter(action="panel.read", actor=team["pathology"].user).exists()


def test_assemble_page_shows_the_unfilled_role(client, login, breast_case, coordinator):
    login(client, coordinator)
    response = client.post(reverse("opinions:panel_assemble", args=[breast_case.pk]), {"template": "lung_cancer"})
    assert response.status_code == 409
    body = response.content.decode()
    assert "No eligible member for" in body and "Pulmonary Disease" in body
    response = client.post(reverse("opinions:panel_assemble", args=[breast_case.pk]), {"template": "bogus"})
    assert response.status_code == 400 and "Unknown panel template." in response.content.decode()


def test_dissolve_needs_a_reason_then_allows_a_new_panel(breast_case, coordinator, team):
    panel = _assemble(coordinator, breast_case)
    with pytest.raises(ValidationFailed):
        panels.dissolve_panel(actor=coordinator, panel=panel, reason=" ")
    panels.dissolve_panel(actor=coordinator, panel=panel, reason="Chair unavailable")
    # Each member hears that their seat has ended, with no link to a page they can no longer open.
    from konsil.cases.models import Notification
    from konsil.cases.notify import path_for

    told = Notification.objects.filter(kind="panel_dissolved", case=breast_case)
    assert {n.user_id for n in told} == {m.specialist.user_id for m in panel.members.all()}
    assert path_for("panel_dissolved", breast_case.pk) is None
    assert _assemble(coordinator, breast_case).chair == team["medical_oncology"]  # the pending offer holds


def test_dissolving_an_accepted_panel_says_the_chair_keeps_the_case(client, login, breast_case, coordinator, team):
    _assemble(coordinator, breast_case)
    chair = team["medical_oncology"]
    transition(actor=chair.user, case=breast_case, action="accept")
    login(client, coordinator)
    response = client.post(reverse("opinions:panel_dissolve", args=[breast_case.pk]), {"reason": "Too slow"},
                           follow=True)
    assert f"The case stays with its chair, {chair}, who goes on alone" in response.content.decode()


def test_blinded_chair_does_not_see_the_first_opinion_on_the_panel_page(client, login, breast_case, coordinator,
                                                                         team):
    from konsil.opinions import blinded

    blinded.set_review_plan(actor=coordinator, case=breast_case, blinded=True)
    _assemble(coordinator, breast_case)
    url = reverse("opinions:panel", args=[breast_case.pk])
    login(client, team["medical_oncology"].user)
    page = client.get(url).content.decode()
    assert "Mastectomy followed by chemotherapy" not in page and "C50.911" not in page
    client.logout()
    login(client, team["radiology"].user)
    assert "Mastectomy followed by chemotherapy" in client.get(url).content.decode()


def test_dissolve_page_needs_a_reason(client, login, breast_case, coordinator, team):
    _assemble(coordinator, breast_case)
    login(client, coordinator)
    url = reverse("opinions:panel_dissolve", args=[breast_case.pk])
    response = client.post(url, {"reason": ""})
    assert response.status_code == 400 and "This field is required." in response.content.decode()
    assert Panel.objects.get().status == "convened"
    assert client.post(url, {"reason": "Chair unavailable"}).status_code == 302
    assert Panel.objects.get().status == "dissolved"
    page = client.get(reverse("opinions:panel", args=[breast_case.pk])).content.decode()
    assert "Assemble the panel" in page
    chair = team["medical_oncology"]
    # the page says where the case stands: still offered to the chair, and how to offer it to someone else
    assert f"The case is still offered to its chair, {chair}" in page and "use Retract offer" in page


def test_the_page_offers_no_assembly_before_triage(client, login, breast_case, coordinator):
    """A submitted case cannot have a panel yet: the page says when it can, instead of a form that fails (409)."""
    from konsil.cases.models import Case

    Case.objects.filter(pk=breast_case.pk).update(status="submitted")
    login(client, coordinator)
    page = client.get(reverse("opinions:panel", args=[breast_case.pk])).content.decode()
    assert "A panel can be assembled once the case is triaged" in page
    assert reverse("opinions:panel_assemble", args=[breast_case.pk]) not in page
    assert reverse("cases:detail", args=[breast_case.pk]) in page


def test_members_find_their_panels_in_the_workspace(client, login, breast_case, coordinator, team):
    _assemble(coordinator, breast_case)
    login(client, team["pathology"].user)
    page = client.get(reverse("opinions:workspace")).content.decode()
    assert reverse("opinions:panel", args=[breast_case.pk]) in page and "Breast cancer tumour board" in page
    assert AuditEvent.objects.filter(action="case.list", actor=team["pathology"].user,
                                     object_id=str(breast_case.pk)).exists()


def test_holder_outside_the_panel_or_chair_outside_the_specialty_is_refused(network, patient_user, coordinator,
                                                                             specialist, team):
    case = make_draft(network, patient_user, codes=("C50.911",))
    transition(actor=patient_user, case=case, action="submit")
    transition(actor=coordinator, case=case, action="triage", specialty="cardiology", urgency="routine")
    with pytest.raises(Conflict) as exc:  # the chair (medical oncology) does not practise cardiology
        _assemble(coordinator, case)
    assert exc.value.code == "chair_not_offered"
    assert "Change the case's specialty on the case page" in str(exc.value.message)  # the way forward
    assert not Panel.objects.exists()
    transition(actor=coordinator, case=case, action="offer", specialist=str(specialist.pk))
    with pytest.raises(Conflict) as exc:  # a cardiologist holds the offer and fills no breast-cancer role
        _assemble(coordinator, case)
    assert exc.value.code == "incumbent_not_in_panel"
    assert "use Retract offer on the case page, then assemble the panel" in str(exc.value.message)
    assert not Panel.objects.exists()
    for action in ("accept", "start_review"):
        transition(actor=specialist.user, case=case, action=action)
    case.refresh_from_db()
    with pytest.raises(Conflict) as exc:  # assigned now: no offer to retract
        _assemble(coordinator, case)
    assert exc.value.code == "incumbent_not_in_panel" and "choose a panel with a role they practise" in str(
        exc.value.message)


def test_panel_members_read_the_record_and_images_but_do_not_write(client, login, breast_case, coordinator, team):
    from konsil.cases import relations as rel
    from konsil.cases.selectors import cases_for

    _assemble(coordinator, breast_case)
    member = team["pathology"].user
    assert rel.PANEL_MEMBER in rel.relations(member, breast_case)
    assert cases_for(member).filter(pk=breast_case.pk).exists()
    page = login(client, member).get(reverse("cases:detail", args=[breast_case.pk]))
    assert page.status_code == 200 and "Mastectomy" in page.content.decode()
    assert client.get(reverse("records:imaging", args=[breast_case.pk])).status_code == 200
    assert 'data-upload-widget' not in page.content.decode()  # members read; the care team adds records
    Panel.objects.filter(case=breast_case).update(status="dissolved")
    assert rel.PANEL_MEMBER not in rel.relations(member, breast_case)
    assert client.get(reverse("cases:detail", args=[breast_case.pk])).status_code == 404
