"""Break-glass: the reason (free text, often clinical) stays encrypted on the grant; the audit trail, kept in clear
and exported to syslog/SIEM, seals it by a keyed hash, so a reason rewritten afterwards no longer matches."""

from __future__ import annotations

from django.db import connection

from konsil.audit.models import AuditEvent
from konsil.audit.services import seal
from konsil.cases import emergency
from konsil.cases.models import EmergencyAccess

from ..factories import make_specialist

REASON = "Unconscious in the ER with chest pain; need the cardiac history now."


def test_the_trail_holds_no_reason_but_seals_it(draft_case, network):
    bystander = make_specialist(network, specialty="cardiology", states=("NY",)).user
    grant = emergency.break_glass(actor=bystander, case=draft_case, reason=REASON)
    seal()
    event = AuditEvent.objects.get(action="case.break_glass", outcome="success")
    assert "reason" not in event.detail and event.detail["grant"] == str(grant.pk)
    assert event.detail["reason_chars"] == len(REASON)
    with connection.cursor() as cursor:  # nothing of the reason in clear anywhere in the database
        for table in (AuditEvent._meta.db_table, EmergencyAccess._meta.db_table):
            cursor.execute(f"SELECT * FROM {table}")  # noqa: S608 (our own table names)
            assert "chest pain" not in repr(cursor.fetchall()), table
    assert emergency.reason_matches(grant, event.detail["reason_hash"])
    EmergencyAccess.objects.filter(pk=grant.pk).update(reason="Routine curiosity about a neighbour, nothing more.")
    grant.refresh_from_db()
    assert not emergency.reason_matches(grant, event.detail["reason_hash"])
    assert not emergency.reason_matches(grant, "no-such-key:0123")
