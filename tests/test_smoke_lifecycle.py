"""One case through the whole lifecycle with the real services, including an information request."""

from konsil.audit.models import AuditEvent
from konsil.audit.services import verify
from konsil.cases.models import Notification
from konsil.cases.services import transition


def test_walk_whole_lifecycle(walker, draft_case):
    case = walker.walk_to(draft_case, "closed")
    assert case.status == "closed"
    assert case.opinions.get().content_hash
    assert [c.action for c in case.timeline.all()] == [
        "submit", "triage", "offer", "accept", "start_review", "complete_draft", "sign", "deliver", "close"]
    assert case.submitted_at and case.delivered_at and case.closed_at
    assert verify().ok


def test_lifecycle_with_an_information_request(walker, draft_case, specialist, patient_user):
    case = walker.walk_to(draft_case, "info_requested")
    case = transition(actor=patient_user, case=case, action="provide_info", message="Uploaded the echo.")
    case = walker.walk_to(case, "closed")
    actions = [c.action for c in case.timeline.all()]
    assert actions[4:8] == ["start_review", "request_info", "provide_info", "complete_draft"]
    assert case.status == "closed"
    assert Notification.objects.filter(case=case, user=patient_user).count() >= 5
    assert not AuditEvent.objects.filter(outcome="denied").exists()
    result = verify()
    assert result.ok and result.verified == AuditEvent.objects.count()
