"""Offers: acceptance windows by urgency, timeouts and declines moving on, escalation, coordinator overrides."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from konsil.audit.models import AuditEvent
from konsil.cases import offers
from konsil.cases.models import Notification, Offer, StatusChange
from konsil.cases.services import transition
from konsil.core.errors import PermissionDenied, ValidationFailed
from konsil.matching import ranking

from ..api.conftest import API, token_client
from ..factories import make_specialist


@pytest.fixture
def team(network, specialist):
    """Four eligible cardiologists; the fake ranking puts them in this order (the fixture's specialist last)."""
    others = [make_specialist(network, first_name=name, last_name="Heart") for name in ("Ada", "Ben", "Cy")]
    return [*others, specialist]


@pytest.fixture
def ranked(monkeypatch, team):
    """rank(case) -> the team, best first, with scores and reasons (the ranking's contract)."""
    def fake_rank(case):
        return [ranking.Ranked(s, round(1 - i / 10, 2), [f"reason {i}"]) for i, s in enumerate(team)]

    monkeypatch.setattr(ranking, "rank", fake_rank)
    return team


def triaged(walker, case, urgency="routine"):
    case = walker.walk_to(case, "submitted")
    return transition(actor=walker.coordinator, case=case, action="triage", specialty="cardiology",
                      urgency=urgency)


def offer(coordinator, case, specialist, **params):
    return transition(actor=coordinator, case=case, action="offer", specialist=str(specialist.pk), **params)


def pending(case):
    return case.offers.get(status="pending")


def later(case, minutes):
    return pending(case).created_at + timedelta(minutes=minutes)


@pytest.mark.parametrize(("urgency", "minutes"), [("routine", 240), ("urgent", 60), ("stat", 15)])
def test_acceptance_window_by_urgency(walker, draft_case, coordinator, ranked, urgency, minutes):
    case = offer(coordinator, triaged(walker, draft_case, urgency), ranked[0])
    made = pending(case)
    assert abs(made.expires_at - made.created_at - timedelta(minutes=minutes)) <= timedelta(seconds=5)
    assert made.attempt == 1 and made.rank == 1 and made.score == 1.0 and made.reasons == ["reason 0"]
    assert made.offered_by == coordinator and not made.override_reason and made.proposed_specialist is None


def test_window_is_configurable(settings, walker, draft_case, coordinator, ranked):
    settings.KONSIL_OFFER_WINDOW_MINUTES = {"stat": 5}
    made = pending(offer(coordinator, triaged(walker, draft_case, "stat"), ranked[0]))
    assert made.expires_at - made.created_at < timedelta(minutes=5, seconds=5)


def test_stat_offer_times_out_after_15_minutes_and_moves_to_the_next(walker, draft_case, coordinator, ranked):
    ada, ben = ranked[0], ranked[1]
    case = offer(coordinator, triaged(walker, draft_case, "stat"), ada)
    assert offers.expire_offers(now=later(case, 14)) == 0
    assert pending(case).specialist == ada

    assert offers.expire_offers(now=later(case, 16)) == 1
    case.refresh_from_db()
    assert case.status == "offered"
    first, second = case.offers.get(specialist=ada), pending(case)
    assert first.status == "expired" and first.responded_at is not None
    assert second.specialist == ben and second.offered_by is None and second.attempt == 2
    assert second.rank == 1 and second.score == 0.9 and second.reasons == ["reason 1"]  # Ada is out of the list
    assert Notification.objects.filter(user=ada.user, kind="expire_offer").count() == 1
    assert Notification.objects.filter(user=ben.user, kind="offer").count() == 1
    steps = StatusChange.objects.filter(case=case).values_list("action", "role", "actor")
    assert ("expire_offer", "system", None) in steps and ("offer", "system", None) in steps
    labels = set(AuditEvent.objects.filter(actor_label="matching").values_list("action", flat=True))
    assert {"case.expire_offer", "case.offer", "offer.open"} <= labels


def test_expiry_runs_once(walker, draft_case, coordinator, ranked):
    case = offer(coordinator, triaged(walker, draft_case), ranked[0])
    assert offers.expire_offers(now=later(case, 241)) == 1
    assert offers.expire_offers(now=pending(case).expires_at - timedelta(seconds=1)) == 0
    assert case.offers.count() == 2 and case.offers.filter(status="expired").count() == 1


def test_timeouts_skip_everyone_already_offered(walker, draft_case, coordinator, ranked):
    ada, ben, cy = ranked[:3]
    case = offer(coordinator, triaged(walker, draft_case, "urgent"), ada)
    offers.expire_offers(now=later(case, 61))
    assert pending(case).specialist == ben
    offers.expire_offers(now=later(case, 61))
    assert pending(case).specialist == cy and pending(case).attempt == 3


def test_decline_reoffers_to_the_next(walker, draft_case, coordinator, ranked, django_capture_on_commit_callbacks):
    ada, ben = ranked[:2]
    case = offer(coordinator, triaged(walker, draft_case), ada)
    with django_capture_on_commit_callbacks(execute=True):
        transition(actor=ada.user, case=case, action="decline", reason="On leave")
    case.refresh_from_db()
    assert case.status == "offered" and pending(case).specialist == ben
    assert case.offers.get(specialist=ada).status == "declined"


def test_the_sweep_reoffers_a_decline_left_behind(walker, draft_case, coordinator, ranked):
    case = offer(coordinator, triaged(walker, draft_case), ranked[0])
    transition(actor=ranked[0].user, case=case, action="decline", reason="On leave")  # its task never ran
    assert offers.expire_offers() == 0
    assert pending(case).specialist == ranked[1]


def test_n_misses_escalate_to_the_coordinators(walker, draft_case, coordinator, ranked,
                                               django_capture_on_commit_callbacks):
    ada, ben, cy = ranked[:3]
    case = offer(coordinator, triaged(walker, draft_case, "stat"), ada)
    with django_capture_on_commit_callbacks(execute=True):
        transition(actor=ada.user, case=case, action="decline", reason="Conflict of interest")
    offers.expire_offers(now=later(case, 16))  # Ben times out
    assert pending(case).specialist == cy
    offers.expire_offers(now=later(case, 16))  # Cy times out: third miss
    case.refresh_from_db()
    assert case.status == "triaged" and case.escalated_at is not None
    assert not case.offers.filter(status="pending").exists()  # the fixture's specialist was not tried
    assert Notification.objects.filter(user=coordinator, case=case, kind="escalated").count() == 1
    event = AuditEvent.objects.get(action="case.escalate", object_id=str(case.pk))
    assert event.actor_label == "matching" and event.detail == {"reason": "misses", "misses": 3}
    offers.expire_offers(now=timezone.now() + timedelta(days=1))
    assert Notification.objects.filter(case=case, kind="escalated").count() == 1  # once, not every minute


def test_max_misses_is_configurable(settings, walker, draft_case, coordinator, ranked):
    settings.KONSIL_OFFER_MAX_MISSES = 1
    case = offer(coordinator, triaged(walker, draft_case), ranked[0])
    offers.expire_offers(now=later(case, 241))
    case.refresh_from_db()
    assert case.status == "triaged" and case.escalated_at is not None


def test_nobody_left_escalates(walker, draft_case, coordinator, specialist):
    """The real ranking, with a single eligible specialist."""
    case = offer(coordinator, triaged(walker, draft_case), specialist)
    offers.expire_offers(now=later(case, 241))
    case.refresh_from_db()
    assert case.status == "triaged" and case.escalated_at is not None
    assert AuditEvent.objects.get(action="case.escalate").detail["reason"] == "nobody_left"


def test_a_miss_after_escalation_goes_back_to_the_coordinators(settings, walker, draft_case, coordinator, ranked):
    settings.KONSIL_OFFER_MAX_MISSES = 1
    case = offer(coordinator, triaged(walker, draft_case), ranked[0])
    offers.expire_offers(now=later(case, 241))
    case = offer(coordinator, case, ranked[2], reason="Knows the patient")  # the coordinator's own pick
    offers.expire_offers(now=later(case, 241))
    case.refresh_from_db()
    assert case.status == "triaged" and not case.offers.filter(status="pending").exists()
    assert Notification.objects.filter(case=case, kind="escalated").count() == 2


def test_a_retracted_offer_is_left_to_the_coordinator(walker, draft_case, coordinator, ranked):
    case = offer(coordinator, triaged(walker, draft_case), ranked[0])
    transition(actor=coordinator, case=case, action="retract_offer", reason="Wrong specialty")
    offers.expire_offers()
    case.refresh_from_db()
    assert case.status == "triaged" and case.offers.count() == 1


# --- coordinator overrides -----------------------------------------------------------------------------------

def test_override_needs_a_reason(walker, draft_case, coordinator, ranked):
    case = triaged(walker, draft_case)
    with pytest.raises(ValidationFailed) as refused:
        offer(coordinator, case, ranked[2], reason="  ")
    assert refused.value.field == "reason" and refused.value.code == "override_reason"
    assert "Ada Heart" in str(refused.value.message)
    case.refresh_from_db()
    assert case.status == "triaged" and not case.offers.exists()


def test_override_is_kept_as_feedback(walker, draft_case, coordinator, ranked):
    case = offer(coordinator, triaged(walker, draft_case), ranked[2], reason="Treated the patient before")
    made = pending(case)
    assert made.override_reason == "Treated the patient before" and made.proposed_specialist == ranked[0]
    assert made.rank == 3 and made.score == 0.8 and made.is_override
    event = AuditEvent.objects.get(action="offer.open", object_id=str(made.pk))
    assert event.detail["override"] is True and event.detail["proposed"] == str(ranked[0].pk)


def test_top_ranked_needs_no_reason_and_full_specialists_are_skipped(walker, draft_case, coordinator, ranked):
    ranked[0].capacity = 0  # no capacity left: Ben is the proposal
    ranked[0].save()
    case = offer(coordinator, triaged(walker, draft_case), ranked[1])
    assert not pending(case).override_reason and pending(case).rank == 2


# --- bad input over the API ----------------------------------------------------------------------------------

def _post(user, case, body):
    return token_client(user).post(f"{API}/cases/{case.pk}/transitions/", body, format="json")


def test_api_override_without_reason_is_a_field_error(walker, draft_case, coordinator, ranked):
    case = triaged(walker, draft_case)
    response = _post(coordinator, case, {"action": "offer", "specialist": str(ranked[1].pk)})
    assert response.status_code == 400
    assert response.json()["errors"]["reason"] and not Offer.objects.exists()


def test_api_unknown_specialist(walker, draft_case, coordinator, ranked):
    case = triaged(walker, draft_case)
    for bad in ("not-a-uuid", "00000000-0000-0000-0000-000000000000", ""):
        response = _post(coordinator, case, {"action": "offer", "specialist": bad})
        assert response.status_code == 400 and "specialist" in response.json()["errors"]
    assert not Offer.objects.exists()


def test_api_accepting_an_expired_offer_is_a_conflict(walker, draft_case, coordinator, ranked):
    case = offer(coordinator, triaged(walker, draft_case, "stat"), ranked[0])
    Offer.objects.filter(pk=pending(case).pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    response = _post(ranked[0].user, case, {"action": "accept"})
    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "offer_expired" and "expired" in body["detail"] and "accepted" in body["detail"]
    case.refresh_from_db()
    assert case.status == "offered" and case.assigned_specialist is None


def test_accepting_in_time_works(walker, draft_case, coordinator, ranked):
    case = offer(coordinator, triaged(walker, draft_case, "stat"), ranked[0])
    case = transition(actor=ranked[0].user, case=case, action="accept")
    assert case.status == "accepted" and case.assigned_specialist == ranked[0]


def test_users_cannot_expire_offers(walker, draft_case, coordinator, ranked):
    case = offer(coordinator, triaged(walker, draft_case), ranked[0])
    with pytest.raises(PermissionDenied):
        transition(actor=coordinator, case=case, action="expire_offer")
    assert pending(case).status == "pending"


def test_page_override_without_reason_shows_next_to_the_reason_field(client, login, walker, draft_case,
                                                                     coordinator, ranked):
    case = triaged(walker, draft_case)
    url = reverse("cases:transition", kwargs={"pk": case.pk, "action": "offer"})
    response = login(client, coordinator).post(url, {"specialist": str(ranked[1].pk), "reason": ""})
    assert response.status_code == 200
    html = response.content.decode()
    field = html[html.index('id="id_offer_reason_field"'):]
    assert 'class="field-error"' in field[:field.index("</div>")] and "ranked first" in field[:field.index("</div>")]
    assert not Offer.objects.exists()


def test_the_page_says_who_was_offered_the_case(client, login, walker, draft_case, coordinator, ranked):
    case = triaged(walker, draft_case)
    url = reverse("cases:transition", kwargs={"pk": case.pk, "action": "offer"})
    response = login(client, coordinator).post(url, {"specialist": str(ranked[0].pk)}, follow=True)
    assert f"Offered to {ranked[0]}." in response.content.decode()


def test_the_message_after_an_action_speaks_the_reader_s_language(client, login, walker, draft_case, coordinator):
    from django.conf import settings

    case = walker.walk_to(draft_case, "info_requested")
    client.force_login(case.patient.user)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "es"
    url = reverse("cases:transition", kwargs={"pk": case.pk, "action": "provide_info"})
    response = client.post(url, {"message": "Adjunto el informe."}, follow=True)
    assert "Su respuesta se envió" in response.content.decode()
