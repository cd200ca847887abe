"""Review findings on offers: a pending offer holds one of the specialist's slots."""

from __future__ import annotations

import pytest

from konsil.cases.services import transition
from konsil.core.errors import ValidationFailed
from konsil.matching import services as matching
from konsil.matching.models import AssignmentRun


@pytest.fixture
def one_slot(specialist):
    specialist.capacity = 1
    specialist.save()
    return specialist


def test_a_second_offer_to_a_specialist_with_one_slot_is_refused(walker, draft_case, other_case, coordinator,
                                                                  one_slot):
    first = walker.walk_to(draft_case, "triaged")
    transition(actor=coordinator, case=first, action="offer", specialist=str(one_slot.pk))
    second = walker.walk_to(other_case, "triaged")
    with pytest.raises(ValidationFailed) as exc:
        transition(actor=coordinator, case=second, action="offer", specialist=str(one_slot.pk), reason="Only one")
    assert "no capacity left" in str(exc.value.message)
    assert not second.offers.exists()


def test_a_stale_batch_proposal_to_a_now_full_specialist_is_a_message(client, login, network, walker, draft_case,
                                                                      other_case, coordinator, one_slot):
    first, second = walker.walk_to(draft_case, "triaged"), walker.walk_to(other_case, "triaged")
    run = matching.execute_run(run=AssignmentRun.objects.create(network=network))
    proposal = run.proposals.get(specialist=one_slot)  # one slot: one of the two cases is proposed to them
    other = first if proposal.case_id == second.pk else second
    transition(actor=coordinator, case=other, action="offer", specialist=str(one_slot.pk), reason="By hand")
    login(client, coordinator)
    response = client.post(f"/matching/batch/proposals/{proposal.pk}/offer/", follow=True)
    assert response.status_code == 200 and "no capacity left" in response.content.decode()
    proposal.refresh_from_db()
    assert proposal.state == "proposed" and not proposal.case.offers.exists()
