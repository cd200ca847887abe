"""The specialist workspace: offers with the minimum needed to decide, accept and decline, my cases."""

from django.urls import reverse

from konsil.audit.models import AuditEvent
from konsil.cases.models import Offer


def test_workspace_lists_an_offer_only_to_the_offered_specialist(client, login, case_at, specialist,
                                                                  other_specialist):
    case = case_at("offered")
    login(client, specialist.user)
    page = client.get(reverse("opinions:workspace")).content.decode()
    assert case.reference in page
    assert "Do I need a stent?" in page
    assert "García" not in page  # minimum necessary: no name before accepting
    assert AuditEvent.objects.filter(actor=specialist.user, action="case.list",
                                     object_id=str(case.pk)).exists()

    client.logout()
    login(client, other_specialist.user)
    assert case.reference not in client.get(reverse("opinions:workspace")).content.decode()


def test_an_offer_says_the_patients_language_and_an_interpreter_need(client, login, case_at, specialist):
    """What a specialist needs to decide: the language the patient speaks, and whether an interpreter is asked."""
    from konsil.cases.models import Case, Patient

    case = case_at("offered")
    Patient.objects.filter(pk=case.patient_id).update(language="es")
    Case.objects.filter(pk=case.pk).update(interpreter_needed=True)
    login(client, specialist.user)
    page = client.get(reverse("opinions:workspace")).content.decode()
    offer = page.split(f'id="offer-{case.pk}"')[1].split("</article>")[0]
    assert "<dt>Language</dt><dd>Spanish · <strong>interpreter needed</strong></dd>" in offer


def test_workspace_is_for_specialists(client, login, coordinator):
    login(client, coordinator)
    assert client.get(reverse("opinions:workspace")).status_code == 403


def test_accept_moves_the_case_and_opens_the_review(s_client, case_at):
    case = case_at("offered")
    response = s_client.post(reverse("opinions:respond", args=[case.pk, "accept"]))
    assert response.status_code == 302
    assert response.url == reverse("opinions:review", args=[case.pk])
    case.refresh_from_db()
    assert case.status == "accepted"
    page = s_client.get(reverse("opinions:workspace")).content.decode()
    assert reverse("opinions:review", args=[case.pk]) in page


def test_decline_needs_a_reason(s_client, case_at):
    case = case_at("offered")
    url = reverse("opinions:respond", args=[case.pk, "decline"])
    response = s_client.post(url, {"reason": "  "}, follow=True)
    assert "give a reason for declining" in response.content.decode()
    case.refresh_from_db()
    assert case.status == "offered"

    s_client.post(url, {"reason": "On leave"})
    case.refresh_from_db()
    assert case.status == "triaged"
    assert Offer.objects.get(case=case).reason == "On leave"


def test_respond_refuses_other_actions_and_other_specialists(client, login, case_at, other_specialist):
    case = case_at("offered")
    login(client, other_specialist.user)
    assert client.post(reverse("opinions:respond", args=[case.pk, "accept"])).status_code == 404
    assert client.post(reverse("opinions:respond", args=[case.pk, "sign"])).status_code == 404
    assert client.get(reverse("opinions:respond", args=[case.pk, "accept"])).status_code == 405
    case.refresh_from_db()
    assert case.status == "offered"
