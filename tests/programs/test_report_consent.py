"""The member's consent lets the payer read the full report of a mandated review (scoped, audited); withdrawing it
takes the access away; without it the payer sees the determination only (403 on the report, never a 500)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from konsil.accounts.roles import Role
from konsil.audit.models import AuditEvent
from konsil.cases.services import sign_consent, transition
from konsil.core.errors import PermissionDenied, ValidationFailed
from konsil.opinions import services as opinions
from konsil.programs import mandates, selectors

from ..conftest import complete_opinion
from ..factories import make_user
from .test_mandates import accept, plan_member, referral  # noqa: F401 - plan_member is a fixture

NARRATIVE = "Quetzal narrative only the consenting member lets the plan read"


@pytest.fixture
def delivered(payer_program, plan_member, payer_admin, network, walker, specialist):  # noqa: F811
    """A delivered mandated review; the member did not agree to share at acceptance."""
    mandate = mandates.refer(actor=payer_admin, program=payer_program, data=referral())
    user, mandate = accept(mandate, network, share_with_payer="")
    case = mandate.case
    sign_consent(actor=user, case=case, scope=["obtain_records", "share_with_reviewers", "share_report"],
                 signer_name="Rick Roe")
    case.questions.create(position=0, text="Do I need the fusion?")
    case = walker.walk_to(case, "in_review")
    opinions.save_draft(actor=specialist.user, case=case, data={
        **complete_opinion(case), "treatment_verdict": "against", "revised_diagnosis": "",
        "diagnosis_verdict": "confirmed", "narrative": NARRATIVE})
    for action in ("complete_draft", "sign"):
        case = transition(actor=specialist.user, case=case, action=action)
    transition(actor=walker.coordinator, case=case, action="deliver")
    mandate.refresh_from_db()
    return user, mandate


def report_url(mandate):
    return reverse("programs:shared_report", args=[mandate.program_id, mandate.pk])


def review_url(mandate):
    return reverse("programs:review", args=[mandate.program_id, mandate.pk])


def test_without_consent_the_payer_sees_the_determination_only(client, login, delivered, payer_admin):
    _user, mandate = delivered
    login(client, payer_admin)
    page = client.get(review_url(mandate)).content.decode()
    assert "Recommend against" in page and NARRATIVE not in page and report_url(mandate) not in page
    response = client.get(report_url(mandate))
    assert response.status_code == 403 and NARRATIVE not in response.content.decode()
    assert AuditEvent.objects.filter(action="program.report_read", outcome="denied").exists()
    with pytest.raises(PermissionDenied):
        selectors.shared_report_case(payer_admin, mandate.program, mandate.pk)


def test_consent_gives_access_and_withdrawal_removes_it(client, login, delivered, payer_admin):
    user, mandate = delivered
    login(client, user)
    case_page = reverse("programs:case", args=[mandate.case_id])
    response = client.post(case_page, {"form": "share", "share-share_with_payer": "yes"})
    assert response.status_code == 302
    mandate.refresh_from_db()
    assert mandate.share_clinical
    assert AuditEvent.objects.filter(action="program.mandate_consent", outcome="success").count() == 1

    login(client, payer_admin)
    assert report_url(mandate) in client.get(review_url(mandate)).content.decode()
    api = client.get(f"/api/v1/programs/{mandate.program_id}/mandates/{mandate.pk}/").json()
    assert api["report_shared"] is True and NARRATIVE not in str(api)
    response = client.get(report_url(mandate))
    assert response.status_code == 200 and NARRATIVE in response.content.decode()
    read = AuditEvent.objects.filter(action="program.report_read", outcome="success").get()
    assert read.patient_id == mandate.case.patient_id and read.purpose == "payment"

    login(client, user)
    assert client.post(case_page, {"form": "share", "share-share_with_payer": "no"}).status_code == 302
    login(client, payer_admin)
    assert client.get(report_url(mandate)).status_code == 403
    assert report_url(mandate) not in client.get(review_url(mandate)).content.decode()


def test_only_the_sponsors_admins_read_it_others_get_404_or_403(client, login, delivered, employer_admin, network):
    user, mandate = delivered
    mandates.set_share(actor=user, mandate=mandate, share=True)
    login(client, employer_admin)  # another sponsor: the program is not theirs
    assert client.get(report_url(mandate)).status_code == 404
    login(client, make_user(Role.COORDINATOR, network))  # network staff read reports on the case, not here
    assert client.get(report_url(mandate)).status_code == 403


def test_nobody_else_decides_for_the_member(client, login, delivered, payer_admin, specialist):
    user, mandate = delivered
    for actor in (payer_admin, specialist.user):
        with pytest.raises(PermissionDenied):
            mandates.set_share(actor=actor, mandate=mandate, share=True)
    with pytest.raises(ValidationFailed):
        mandates.set_share(actor=user, mandate=mandate, share="yes")
    login(client, payer_admin)
    case_page = reverse("programs:case", args=[mandate.case_id])
    assert client.post(case_page, {"form": "share", "share-share_with_payer": "yes"}).status_code in (403, 404)
    mandate.refresh_from_db()
    assert not mandate.share_clinical


def test_bad_choice_is_a_field_error_and_changes_nothing(client, login, delivered):
    user, mandate = delivered
    login(client, user)
    response = client.post(reverse("programs:case", args=[mandate.case_id]),
                           {"form": "share", "share-share_with_payer": "maybe"})
    assert response.status_code == 400 and "share-share_with_payer" in response.content.decode()
    mandate.refresh_from_db()
    assert not mandate.share_clinical


def test_consent_before_delivery_gives_nothing_yet(client, login, payer_program, plan_member, payer_admin,  # noqa: F811
                                                   network):
    mandate = mandates.refer(actor=payer_admin, program=payer_program, data=referral())
    _user, mandate = accept(mandate, network, share_with_payer="on")
    assert mandate.share_clinical
    login(client, payer_admin)
    assert client.get(report_url(mandate)).status_code == 403
