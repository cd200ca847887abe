"""Mandated reviews: referral, the member's acceptance, the determination on delivery, its event and webhook."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from konsil.accounts.roles import Role
from konsil.cases.services import sign_consent, transition
from konsil.core.errors import Conflict, PermissionDenied, ValidationFailed
from konsil.fhir.models import WebhookDelivery, WebhookSubscription
from konsil.opinions import services as opinions
from konsil.programs import mandates
from konsil.programs.models import Determination, Mandate, ProgramEvent

from ..conftest import complete_opinion
from ..factories import make_user, valid_npi
from .conftest import add_member

NPI = valid_npi(4242)


def referral(**kw):
    return {"member_id": "P100", "requesting_npi": NPI, "requesting_name": "Dr. Spine", "cpt": "22630",
            "procedure_text": "L4-L5 posterior lumbar interbody fusion", "diagnoses": ["M48.062"], **kw}


@pytest.fixture
def plan_member(payer_program):
    return add_member(payer_program, "P100", family_name="Roe", given_name="Rick", sex="male", state="WA")


def test_refer_sets_the_deadline_from_the_mandate(payer_program, plan_member, payer_admin):
    mandate = mandates.refer(actor=payer_admin, program=payer_program, data=referral())
    assert mandate.deadline == timezone.localdate() + dt.timedelta(days=14)
    assert (mandate.state, mandate.member, mandate.diagnoses) == ("invited", plan_member, ["M48.062"])
    with pytest.raises(Conflict):
        mandates.refer(actor=payer_admin, program=payer_program, data=referral())


@pytest.mark.parametrize("change, field", [
    ({"member_id": "NOPE"}, "member_id"), ({"requesting_npi": "1234567890"}, "requesting_npi"),
    ({"cpt": "ABC"}, "cpt"), ({"diagnoses": ["NOTACODE"]}, "diagnoses"), ({"diagnoses": []}, "diagnoses"),
    ({"deadline": "2020-01-01"}, "deadline"), ({"cpt": "99999", "deadline": ""}, "deadline"),
    ({"procedure_text": ""}, "procedure_text"), ({"email": "no-at-sign"}, "email"),
])
def test_bad_referrals_name_the_field(payer_program, plan_member, payer_admin, change, field):
    with pytest.raises(ValidationFailed) as exc:
        mandates.refer(actor=payer_admin, program=payer_program, data=referral(**change))
    assert field in exc.value.as_dict()["errors"]
    assert not Mandate.objects.exists()


def test_a_bad_referral_names_every_field_at_once_in_words_that_fit_the_form(payer_program, plan_member,
                                                                            payer_admin):
    bad = referral(requesting_npi="1234567890", diagnoses=["NOTACODE"], email="no-at-sign", procedure_text="")
    with pytest.raises(ValidationFailed) as exc:
        mandates.refer(actor=payer_admin, program=payer_program, data=bad)
    errors = exc.value.as_dict()["errors"]
    assert set(errors) == {"requesting_npi", "diagnoses", "email", "procedure_text"}
    assert errors["diagnoses"] == ["Unknown ICD-10-CM code(s): NOTACODE."]  # no "describe it in words": no such box
    with pytest.raises(ValidationFailed) as exc:
        mandates.refer(actor=payer_admin, program=payer_program, data=referral(member_id="NOPE", cpt="99999"))
    errors = exc.value.as_dict()["errors"]
    assert errors["member_id"] == ["No member of this program has this member id: check it against the roster."]
    assert "not on this program's list of mandated procedures" in errors["deadline"][0]
    assert not Mandate.objects.exists()


def test_terminated_member_cannot_be_referred(payer_program, payer_admin):
    add_member(payer_program, "P100", coverage_end=timezone.localdate() - dt.timedelta(days=2))
    with pytest.raises(ValidationFailed) as exc:
        mandates.refer(actor=payer_admin, program=payer_program, data=referral())
    assert exc.value.code == "terminated"


def test_only_the_payers_care_managers_refer(payer_program, plan_member, employer_admin, coordinator):
    for user in (employer_admin, coordinator):
        with pytest.raises(PermissionDenied):
            mandates.refer(actor=user, program=payer_program, data=referral())


def test_deadline_drives_urgency():
    today = timezone.localdate()
    assert mandates.urgency_for(today + dt.timedelta(days=2)) == "stat"
    assert mandates.urgency_for(today + dt.timedelta(days=6)) == "urgent"
    assert mandates.urgency_for(today + dt.timedelta(days=20)) == "routine"


def accept(mandate, network, **kw):
    user = make_user(Role.PATIENT, network)
    data = {"birth_date": "1980-01-01", "family_name": "roe", "state": "CA", **kw}
    return user, mandates.accept(actor=user, mandate=mandate, data=data)


def test_member_accepts_and_the_case_runs_to_a_determination(payer_program, plan_member, payer_admin, network,
                                                           walker, specialist):
    sub = WebhookSubscription.objects.create(organization=payer_program.sponsor, url="https://payer.example/hook",
                                             events=["*"], secret="whsec_dGVzdHRlc3R0ZXN0dGVzdHRlc3Q=")
    mandate = mandates.refer(actor=payer_admin, program=payer_program,
                             data=referral(deadline=(timezone.localdate() + dt.timedelta(days=5)).isoformat()))
    with pytest.raises(ValidationFailed):
        accept(mandate, network, family_name="Someone")
    user, mandate = accept(mandate, network, share_with_payer="")
    case = mandate.case
    assert (case.channel, case.sponsor, case.urgency, case.proposed_cpt) == ("payer", payer_program.sponsor,
                                                                          "urgent", "22630")
    assert case.enrollment.member == plan_member and mandate.state == "in_progress"
    with pytest.raises(Conflict):
        accept(mandate, network)
    sign_consent(actor=user, case=case, scope=["obtain_records", "share_with_reviewers", "share_report"],
                 signer_name="Rick Roe")
    case.questions.create(position=0, text="Do I need the fusion?")
    case = walker.walk_to(case, "in_review")
    s_user = specialist.user
    opinions.save_draft(actor=s_user, case=case, data={**complete_opinion(case), "treatment_verdict": "against",
                                                       "revised_diagnosis": "", "diagnosis_verdict": "confirmed"})
    transition(actor=s_user, case=case, action="complete_draft")
    transition(actor=s_user, case=case, action="sign")
    assert not Determination.objects.exists()
    transition(actor=walker.coordinator, case=case, action="deliver")
    d = Determination.objects.get(mandate=mandate)
    assert (d.outcome, d.recommended_cpt, d.decided_on) == ("against", "", timezone.localdate())
    mandate.refresh_from_db()
    assert mandate.state == "determined"
    event = ProgramEvent.objects.get(program=payer_program)
    assert event.type == "determination.issued"
    data = event.payload["data"]
    assert data["determination"] == "against" and data["proposed_cpt"] == "22630" and data["on_time"] is True
    assert "narrative" not in str(event.payload) and "fusion" not in str(event.payload).lower()
    delivery = WebhookDelivery.objects.get(subscription=sub, event="determination.issued")
    assert delivery.payload == event.payload


def test_specialist_records_the_recommended_procedure(payer_program, plan_member, payer_admin, network, walker,
                                                      specialist):
    mandate = mandates.refer(actor=payer_admin, program=payer_program, data=referral())
    user, mandate = accept(mandate, network)
    with pytest.raises(PermissionDenied):
        mandates.set_recommended_cpt(actor=user, mandate=mandate, data={"recommended_cpt": "63047"})
    case = mandate.case
    sign_consent(actor=user, case=case, scope=["obtain_records", "share_with_reviewers", "share_report"],
                 signer_name="Rick Roe")
    case.questions.create(position=0, text="Is there another way?")
    case = walker.walk_to(case, "accepted")
    with pytest.raises(ValidationFailed):
        mandates.set_recommended_cpt(actor=specialist.user, mandate=mandate, data={"recommended_cpt": "6304"})
    mandates.set_recommended_cpt(actor=specialist.user, mandate=mandate, data={"recommended_cpt": "63047"})
    case = walker.walk_to(case, "delivered")  # the walker's opinion says "modify"
    d = Determination.objects.get(mandate=mandate)
    assert (d.outcome, d.recommended_cpt) == ("modify", "63047")
