"""Two patients racing for the same slot of one specialist: one booking, one clear refusal, never a 500 or two
rows (the specialist row lock and the partial unique index both hold)."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from konsil.consults import services
from konsil.consults.models import Consult
from konsil.core.errors import DomainError


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="threads on the in-memory SQLite test database "
                    "share one lock table; run with DATABASE_URL=postgres://... (CI does)")
def test_concurrent_bookings_of_one_slot(network, coordinator, consult_specialist, patient_user, other_patient):
    from tests.conftest import Walker
    from tests.factories import make_draft

    walker = Walker(coordinator, consult_specialist)
    cases = [walker.walk_to(make_draft(network, user), "delivered") for user in (patient_user, other_patient)]
    start = services.open_slots(consult_specialist)[0].starts_at.isoformat()
    results: list[str] = []
    barrier = threading.Barrier(2)

    def book(case, user):
        try:
            barrier.wait()
            services.book(actor=user, case=case, mode="video", starts_at=start, patient_time_zone="UTC")
            results.append("booked")
        except DomainError as exc:
            results.append(exc.code)
        finally:
            connection.close()

    threads = [threading.Thread(target=book, args=(case, case.patient.user)) for case in cases]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == ["booked", "slot_taken"]
    assert Consult.objects.filter(status="booked").count() == 1
