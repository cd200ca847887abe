from konsil.audit.services import verify


def test_walk_whole_lifecycle(walker, draft_case):
    case = walker.walk_to(draft_case, "closed")
    assert case.status == "closed"
    assert case.opinions.get().content_hash
    assert verify().ok
