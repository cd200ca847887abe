"""The roster page lists the members (sponsor's and network's admins only): found by member id (a subscriber's
id finds the dependants too), by birth date through its keyed hash, by coverage today; paged; every member shown
audited; a bad search says which field is wrong."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.urls import reverse
from django.utils import timezone

from konsil.audit.models import AuditEvent

from .conftest import add_member

pytestmark = pytest.mark.django_db


@pytest.fixture
def roster(employer_program):
    today = timezone.localdate()
    add_member(employer_program, "E100", given_name="Jane", family_name="Doe")
    add_member(employer_program, "E100-01", subscriber_id="E100", relationship="child", given_name="Jim",
               birth_date=dt.date(2014, 3, 9))
    add_member(employer_program, "E200", given_name="Ana", family_name="García", birth_date=dt.date(1975, 7, 7),
               coverage_end=today - dt.timedelta(days=1))
    add_member(employer_program, "E300", given_name="Kai", family_name="Lund",
               coverage_start=today + dt.timedelta(days=30))
    return employer_program


def page(client, program, **params):
    return client.get(reverse("programs:roster", kwargs={"pk": program.pk}), params)


def test_the_roster_lists_members_with_their_coverage_today(client, login, roster, employer_admin):
    login(client, employer_admin)
    response = page(client, roster)
    body = response.content.decode()
    assert response.status_code == 200
    assert "2 covered today, 1 whose coverage ended, 1 whose coverage starts later." in body
    assert body.index("E100") < body.index("E200") < body.index("E300")  # member id order
    assert "García" in body and "subscriber E100" in body and 'data-label="Coverage"' in body
    assert "Ended" in body and "Starts later" in body
    shown = AuditEvent.objects.filter(action="program.member_list", actor=employer_admin)
    assert shown.count() == 4 and {e.object_type for e in shown} == {"programs.member"}


@pytest.mark.parametrize(("params", "found", "not_found"), [
    ({"member_id": "e100"}, ["E100", "E100-01"], ["E200"]),  # the start of the id, any case: the family too
    ({"member_id": "E100-01"}, ["E100-01"], ["E200", ">E100<"]),
    ({"birth_date": "1975-07-07"}, ["E200"], ["E100"]),
    ({"coverage": "covered"}, ["E100", "E100-01"], ["E200", "E300"]),
    ({"coverage": "ended"}, ["E200"], ["E300"]),
    ({"coverage": "future"}, ["E300"], ["E200"]),
])
def test_finding_members(client, login, roster, employer_admin, params, found, not_found):
    login(client, employer_admin)
    body = page(client, roster, **params).content.decode()
    for member_id in found:
        assert member_id in body
    for text in not_found:
        assert text not in body.split('id="members"')[1].split("Recent imports")[0]


def test_nobody_matches_and_bad_searches(client, login, roster, employer_admin):
    login(client, employer_admin)
    body = page(client, roster, member_id="Z9").content.decode()
    assert "No member matches these filters." in body and "0 members match." in body
    assert "1 member matches." in page(client, roster, member_id="E200").content.decode()
    response = page(client, roster, birth_date="1975-13-45", coverage="lapsed", member_id="E2")
    assert response.status_code == 400
    body = response.content.decode()
    assert "Enter a valid date." in body and "Select a valid choice." in body
    members = body.split('id="members"')[1]
    assert "E200" in members and "E100" not in members  # the fields without an error still filter
    assert "Clear" in members


def test_pages_of_25(client, login, employer_program, employer_admin):
    for n in range(30):
        add_member(employer_program, f"M{n:03d}")
    login(client, employer_admin)
    first = page(client, employer_program).content.decode()
    assert "M024" in first and "M025" not in first and "Page 1 of 2" in first
    second = page(client, employer_program, page=2, coverage="covered").content.decode()
    assert "M025" in second and "M024" not in second and "coverage=covered" in second
    assert re.search(r'rel="prev" href="[^"]*page=1[^"]*#members"', second)  # back to the list, not the top


def test_only_those_who_keep_the_roster_see_it(client, login, roster, coordinator, payer_admin, network_admin):
    for user, status in ((coordinator, 404), (payer_admin, 404), (network_admin, 200)):
        login(client, user)
        assert page(client, roster).status_code == status, user
    assert not AuditEvent.objects.filter(action="program.member_list", actor=coordinator).exists()
