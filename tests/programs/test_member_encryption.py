"""Program members' birth dates are encrypted at rest; eligibility finds members through the keyed blind index;
rows written in the clear before are sealed by the data migration."""

from __future__ import annotations

import datetime as dt
import importlib

import pytest
from django.apps import apps
from django.db import connection

from konsil.programs import eligibility
from konsil.programs.models import Member

from ..core.test_encryption_at_rest import all_text_in_database
from .conftest import add_member

BORN = dt.date(1937, 2, 19)
CLEAR = ("1937-02-19", "19370219")

migration = importlib.import_module("konsil.programs.migrations.0002_encrypted_member_birth_date")


def _pk(obj):
    return obj.pk.hex if connection.vendor == "sqlite" else obj.pk


@pytest.mark.django_db
def test_the_raw_database_holds_no_birth_date_in_the_clear(employer_program):
    member = add_member(employer_program, "E937", birth_date=BORN)
    dump = all_text_in_database()
    for value in CLEAR:
        assert value not in dump
    assert Member.objects.get(pk=member.pk).birth_date == BORN
    with connection.cursor() as cursor:
        cursor.execute("SELECT birth_date, birth_date_index FROM programs_member WHERE id = %s", [_pk(member)])
        stored, index = cursor.fetchone()
    assert str(stored).startswith("enc1:") and len(index) == 32


@pytest.mark.django_db
def test_eligibility_finds_the_member_through_the_blind_index(employer_program):
    add_member(employer_program, "E937", birth_date=BORN, family_name="García-López")
    ok = eligibility.check(employer_program, member_id="E937", birth_date=BORN, family_name="garcia lopez")
    assert ok.eligible and ok.reason == "eligible"
    wrong = eligibility.check(employer_program, member_id="E937", birth_date=BORN + dt.timedelta(days=1),
                              family_name="García-López")
    assert not wrong.eligible and wrong.reason == "not_found"
    bad = eligibility.check(employer_program, member_id="E937", birth_date="1937-02-19", family_name="García-López")
    assert not bad.eligible and bad.reason == "not_found"  # a string is not a date: no match, no error


@pytest.mark.django_db
def test_a_roster_change_of_birth_date_moves_the_index(employer_program):
    member = add_member(employer_program, "E937", birth_date=BORN)
    member.birth_date = dt.date(1938, 3, 1)
    member.save(update_fields=["birth_date"])
    assert not eligibility.check(employer_program, member_id="E937", birth_date=BORN, family_name="Doe").eligible
    assert eligibility.check(employer_program, member_id="E937", birth_date=dt.date(1938, 3, 1),
                             family_name="Doe").eligible


@pytest.mark.django_db
def test_the_data_migration_seals_rows_written_in_the_clear(employer_program):
    member = add_member(employer_program, "E937", birth_date=BORN)
    with connection.cursor() as cursor:  # as the rows were before this migration
        cursor.execute("UPDATE programs_member SET birth_date = %s, birth_date_index = '' WHERE id = %s",
                       ["1937-02-19", _pk(member)])
    assert Member.objects.get(pk=member.pk).birth_date == BORN  # clear rows still read
    assert "1937-02-19" in all_text_in_database()
    migration.seal_existing(apps, None)
    dump = all_text_in_database()
    assert "1937-02-19" not in dump
    assert Member.objects.get(pk=member.pk).birth_date == BORN
    assert eligibility.check(employer_program, member_id="E937", birth_date=BORN, family_name="Doe").eligible
