"""Fixtures for the opinion pages: cases at a given status and a second specialist."""

import pytest

from konsil.cases.services import transition
from tests.factories import make_draft, make_specialist


@pytest.fixture
def other_specialist(network):
    return make_specialist(network, specialty="cardiology", states=("CA",), languages=("en",))


@pytest.fixture
def case_at(walker, draft_case):
    """The draft case walked (on from where it stands) through the real services to `status`."""

    def at(status):
        draft_case.refresh_from_db()
        return walker.walk_to(draft_case, status)

    return at


@pytest.fixture
def s_client(client, login, specialist):
    """A client signed in as the fixture specialist."""
    return login(client, specialist.user)


@pytest.fixture
def breast_case(network, patient_user, coordinator):
    """A breast-cancer case (patient in CA) triaged to medical oncology: its panel is the breast tumour board."""
    case = make_draft(network, patient_user, codes=("C50.911",), questions=("Do I need chemotherapy?",))
    case.proposed_treatment = "Mastectomy followed by chemotherapy"
    case.save()
    transition(actor=patient_user, case=case, action="submit")
    return transition(actor=coordinator, case=case, action="triage", specialty="medical_oncology",
                      urgency="routine")
