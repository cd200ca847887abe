"""Auto-routing: a confident triage is offered to the top-ranked specialist with no person in between; abstaining
cases and cases nobody can take go to the coordinators with the reasons; red-flag cases route first."""

from __future__ import annotations

import pytest
from django.urls import reverse

from konsil.accounts.roles import Role
from konsil.audit.models import AuditEvent
from konsil.cases.models import Notification, StatusChange
from konsil.cases.services import transition
from konsil.core.errors import PermissionDenied, ValidationFailed
from konsil.matching import routing, tasks
from konsil.matching.models import RoutingOutcome, RoutingSetting
from konsil.triage.engine import Proposal
from konsil.triage.models import TriageDecision

from ..conftest import verified_login
from ..factories import make_draft, make_specialist, make_user


def proposal(code, **kwargs):
    return Proposal(code, ranked=[{"code": code, "probability": 0.93}], **kwargs)


PLAN = {"proposal": proposal("cardiology")}


class FixedEngine:
    """A triage engine answering what the test planned."""

    name = "fixed"
    version = "1"

    def propose(self, case):
        return PLAN["proposal"]


@pytest.fixture(autouse=True)
def fixed_engine(settings):
    settings.KONSIL_TRIAGE_ENGINE = "tests.cases.test_autoroute.FixedEngine"
    yield
    PLAN["proposal"] = proposal("cardiology")


@pytest.fixture
def auto(network):
    return RoutingSetting.objects.create(network=network, auto_route=True)


def submit(case, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        transition(actor=case.patient.user, case=case, action="submit")
    case.refresh_from_db()
    return case


def test_confident_case_is_offered_to_the_top_ranked(auto, draft_case, specialist, network, coordinator,
                                                     django_capture_on_commit_callbacks):
    make_specialist(network, specialty="cardiology", states=("NY",), first_name="Far")  # not licensed in CA
    case = submit(draft_case, django_capture_on_commit_callbacks)
    assert case.status == "offered" and case.specialty_id == "cardiology"
    offer = case.offers.get(status="pending")
    assert offer.specialist == specialist and offer.rank == 1 and offer.offered_by is None
    actions = list(StatusChange.objects.filter(case=case).order_by("created_at").values_list("action", "role"))
    assert actions[1:] == [("triage", "system"), ("offer", "system")]
    assert not TriageDecision.objects.filter(case=case).exists()  # nobody decided: no feedback row
    outcome = RoutingOutcome.objects.get(case=case)
    assert outcome.outcome == "offered" and outcome.specialist == specialist and outcome.seconds >= 0
    assert AuditEvent.objects.filter(action="matching.auto_route", object_id=str(case.pk)).exists()
    # the specialist still decides
    case = transition(actor=specialist.user, case=case, action="accept")
    assert case.status == "accepted"


def test_abstaining_case_goes_to_the_coordinators_with_reasons(auto, draft_case, specialist, coordinator,
                                                               django_capture_on_commit_callbacks):
    PLAN["proposal"] = Proposal("cardiology", abstain=True, reasons=["two specialties equally likely"])
    case = submit(draft_case, django_capture_on_commit_callbacks)
    assert case.status == "submitted" and not case.offers.exists()
    outcome = RoutingOutcome.objects.get(case=case)
    assert outcome.outcome == "coordinators"
    assert "not confident" in outcome.lines[0] and "two specialties equally likely" in outcome.lines
    assert Notification.objects.filter(user=coordinator, kind="routing_needed").exists()


def test_routing_reasons_are_sealed_and_read_in_the_readers_language(auto, draft_case, coordinator,
                                                                     django_capture_on_commit_callbacks):
    from django.db import connection
    from django.utils import translation

    from konsil.triage import reasons

    PLAN["proposal"] = Proposal("cardiology", abstain=True, reasons=[reasons.generalist_line()])
    case = submit(draft_case, django_capture_on_commit_callbacks)
    outcome = RoutingOutcome.objects.get(case=case)
    assert {"key": "generalist", "params": {}} in outcome.reasons  # the stored form, not this language's words
    with connection.cursor() as cursor:
        cursor.execute("SELECT reasons FROM matching_routingoutcome WHERE id = %s", [outcome.pk.hex
                       if connection.vendor == "sqlite" else outcome.pk])
        raw = cursor.fetchone()[0]
    assert "generalist" not in raw and "confident" not in raw  # sealed at rest, like the proposal's reasons
    english = outcome.lines
    with translation.override("es"):
        spanish = RoutingOutcome.objects.get(pk=outcome.pk).lines
    assert len(english) == len(spanish) == 2 and english[0] != spanish[0] and english[1] != spanish[1]


def test_nobody_eligible_goes_to_the_coordinators_with_why(auto, draft_case, coordinator, network,
                                                           django_capture_on_commit_callbacks):
    PLAN["proposal"] = proposal("nephrology")
    make_specialist(network, specialty="nephrology", states=("NY",), first_name="Nils", last_name="York")
    case = submit(draft_case, django_capture_on_commit_callbacks)
    assert case.status == "triaged" and case.escalated_at is not None
    outcome = RoutingOutcome.objects.get(case=case)
    assert outcome.outcome == "coordinators"
    assert any("Nils York" in r and "not licensed in CA" in r for r in outcome.reasons)
    assert Notification.objects.filter(user=coordinator, kind="routing_needed").exists()


def test_queue_shows_routing_reasons(client, auto, draft_case, coordinator, network,
                                     django_capture_on_commit_callbacks):
    PLAN["proposal"] = Proposal("cardiology", abstain=True, reasons=["unclear question"])
    submit(draft_case, django_capture_on_commit_callbacks)
    verified_login(client, coordinator)
    page = client.get(reverse("cases:queue")).content.decode()
    assert 'id="routing-needed"' in page and "not confident" in page and draft_case.reference in page


def test_off_by_default_triage_only(draft_case, specialist, django_capture_on_commit_callbacks):
    case = submit(draft_case, django_capture_on_commit_callbacks)
    assert case.status == "submitted" and case.triage_proposals.exists()
    assert not RoutingOutcome.objects.exists()


def test_red_flag_cases_route_first(auto, network, patient_user, monkeypatch):
    queued = []

    def record(self, *args, **kwargs):
        queued.append((self.name, self.priority, *args))

    monkeypatch.setattr(type(tasks.route_case), "enqueue", record)
    calm = make_draft(network, patient_user)
    red = make_draft(network, patient_user)
    for case in (calm, red):
        case.status, case.submitted_at = "submitted", case.created_at
        case.save()
    PLAN["proposal"] = proposal("cardiology")
    routing.triage_and_route(case_id=calm.pk)
    PLAN["proposal"] = proposal("cardiology", urgency="stat",
                                red_flags=[{"code": "stemi", "label": "STEMI", "urgency": "stat"}])
    routing.triage_and_route(case_id=red.pk)
    assert queued == [("route_case", 0, str(calm.pk)), ("route_case", routing.RED_FLAG_PRIORITY, str(red.pk))]
    assert tasks.route_case.priority < routing.RED_FLAG_PRIORITY


def test_red_flag_case_routed_urgently(auto, draft_case, specialist, django_capture_on_commit_callbacks):
    PLAN["proposal"] = proposal("cardiology", urgency="stat",
                                red_flags=[{"code": "stemi", "label": "STEMI", "urgency": "stat"}])
    case = submit(draft_case, django_capture_on_commit_callbacks)
    assert case.status == "offered" and case.urgency == "stat"
    assert RoutingOutcome.objects.get(case=case).red_flag


def test_only_org_admins_switch_auto_routing(network, coordinator, client):
    admin = make_user(Role.ORG_ADMIN, network)
    with pytest.raises(PermissionDenied):
        routing.set_auto_route(actor=coordinator, network=network, on=True)
    with pytest.raises(ValidationFailed):
        routing.set_auto_route(actor=admin, network=network, on="yes")
    routing.set_auto_route(actor=admin, network=network, on=True)
    assert routing.auto_route_on(network)
    verified_login(client, admin)
    assert client.get(reverse("matching:routing")).status_code == 200
    client.post(reverse("matching:routing"), {"network": str(network.pk)})  # the box unticked: off
    assert not routing.auto_route_on(network)
    assert AuditEvent.objects.filter(action="matching.routing_set").count() == 2
    verified_login(client, coordinator)
    assert client.get(reverse("matching:routing")).status_code == 403




def test_a_refused_offer_still_reaches_the_coordinators(auto, draft_case, specialist, coordinator, monkeypatch,
                                                       django_capture_on_commit_callbacks):
    from konsil.cases import effects
    from konsil.core.errors import Conflict

    def refuse(**_kwargs):
        raise Conflict("The specialist just became unavailable.")

    monkeypatch.setattr(effects, "guard_offer", refuse)
    from konsil.cases import lifecycle

    monkeypatch.setattr(lifecycle, "_TABLE", None)
    case = submit(draft_case, django_capture_on_commit_callbacks)
    monkeypatch.setattr(lifecycle, "_TABLE", None)
    assert case.status == "triaged" and case.escalated_at is not None
    outcome = RoutingOutcome.objects.get(case=case)
    assert outcome.outcome == "coordinators" and "unavailable" in outcome.reasons[0]


def test_page_and_api_show_what_auto_routing_did(client, auto, draft_case, coordinator,
                                                 django_capture_on_commit_callbacks):
    from ..api.conftest import API, token_client

    PLAN["proposal"] = proposal("cardiology", abstain=True, reasons=["unclear question"])
    case = submit(draft_case, django_capture_on_commit_callbacks)
    body = token_client(coordinator).get(f"{API}/cases/{case.pk}/eligibility/").json()
    assert body["routing"]["outcome"] == "coordinators" and "unclear question" in body["routing"]["reasons"]
    verified_login(client, coordinator)
    page = client.get(reverse("cases:detail", kwargs={"pk": case.pk})).content.decode()
    assert 'id="routing-outcome"' in page and "unclear question" in page


def test_api_words_only_case_is_offered_automatically(auto, network, patient_user, specialist,
                                                      django_capture_on_commit_callbacks):
    from ..api.conftest import API, token_client

    api = token_client(patient_user)
    body = {"channel": "patient", "questions": ["Do I need a stent, or are medicines enough?"],
            "patient": {"given_name": "Ana", "family_name": "García", "birth_date": "1970-05-17", "sex": "female",
                        "state": "CA", "language": "en"},
            "proposed_treatment": "A stent in a narrowed heart artery",
            "clinical_summary": "Chest pain when walking uphill; the angiogram showed a narrowed artery."}
    created = api.post(f"{API}/cases/", body, format="json")
    assert created.status_code == 201, created.content
    case_id = created.json()["id"]
    api.post(f"{API}/cases/{case_id}/consent/", {"scope": ["share_with_reviewers"], "signer_name": "Ana García"},
             format="json")
    with django_capture_on_commit_callbacks(execute=True):
        submitted = api.post(f"{API}/cases/{case_id}/transitions/", {"action": "submit"}, format="json")
    assert submitted.status_code == 200, submitted.content
    detail = api.get(f"{API}/cases/{case_id}/").json()
    assert detail["status"] == "offered"
    assert RoutingOutcome.objects.get(case_id=case_id).specialist == specialist


def test_the_needs_a_coordinator_banner_settles_once_the_case_is_offered(client, auto, draft_case, specialist,
                                                                        coordinator,
                                                                        django_capture_on_commit_callbacks):
    PLAN["proposal"] = proposal("cardiology", abstain=True, reasons=["unclear question"])
    case = submit(draft_case, django_capture_on_commit_callbacks)
    verified_login(client, coordinator)
    url = reverse("cases:detail", kwargs={"pk": case.pk})
    assert 'class="alert warning" id="routing-outcome"' in client.get(url).content.decode()
    case = transition(actor=coordinator, case=case, action="triage", specialty="cardiology", urgency="routine")
    assert 'class="alert warning" id="routing-outcome"' in client.get(url).content.decode()  # still to match
    transition(actor=coordinator, case=case, action="offer", specialist=str(specialist.pk),
               reason="the coordinator's choice")
    page = client.get(url).content.decode()
    assert 'class="muted small" id="routing-outcome"' in page  # history now, not a call to act
    assert "unclear question" in page


def test_the_ranking_shows_its_head_and_counts_the_rest(client, auto, draft_case, coordinator,
                                                       django_capture_on_commit_callbacks):
    ranked = [{"code": "pulmonology", "probability": 0.86}, {"code": "cardiology", "probability": 0.10},
              {"code": "podiatry", "probability": 0.003}, {"code": "nephrology", "probability": 0.002}]
    PLAN["proposal"] = Proposal("pulmonology", ranked=ranked, abstain=True, reasons=["unclear question"])
    case = submit(draft_case, django_capture_on_commit_callbacks)
    verified_login(client, coordinator)
    page = client.get(reverse("cases:detail", kwargs={"pk": case.pk})).content.decode()
    ranking = page.split('<ol class="ranked">')[1].split("</ol>")[0]
    assert "86%" in ranking and "10%" in ranking and ranking.count("<li>") == 2
    assert "Podiatry" not in ranking
    assert "2 other specialties are less likely." in page
