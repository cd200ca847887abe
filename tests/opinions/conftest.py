"""Fixtures for the opinion pages: cases at a given status and a second specialist."""

import pytest

from tests.factories import make_specialist


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
