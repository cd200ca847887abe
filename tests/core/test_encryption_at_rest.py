"""Clinical words, codes, birth dates and login-row names are encrypted at rest; the queries that need them work."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import IntegrityError, connection, transaction

from konsil.accounts.models import User
from konsil.cases.models import CaseDiagnosis, CodeSuggestion, Patient, PatientIdentity
from konsil.core import fields, keys
from konsil.opinions.models import Opinion
from konsil.triage import services as triage
from konsil.triage.models import TriageProposal

pytestmark = pytest.mark.django_db(transaction=False)

NARRATIVE = "Zebrafinch lesion narrative"
ANSWER = "Quokka answer for the patient"
BIRTH = dt.date(1961, 4, 2)


def all_text_in_database() -> str:
    """Every value of every table, as the database holds it (what a copy of the file or a dump would show)."""
    out = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            cursor.execute(f'SELECT * FROM "{table}"')  # noqa: S608 - table names from introspection
            for row in cursor.fetchall():
                for value in row:
                    if isinstance(value, (bytes, memoryview)):
                        value = bytes(value).decode("latin-1")
                    out.append(str(value))
    return "\n".join(out)


@pytest.fixture
def signed_case(walker, draft_case, patient_user):
    for person in (Patient.objects.get(pk=draft_case.patient_id), draft_case.identity):
        if person is not None:
            person.birth_date = BIRTH
            person.save()
    patient_user.first_name, patient_user.last_name = "Anneliese", "Vanderbraak"
    patient_user.save()
    CaseDiagnosis.objects.create(case=draft_case, code="C50.911", position=1)
    case = walker.walk_to(draft_case, "opinion_drafted")
    opinion = case.opinions.get()
    answers = {str(q.pk): ANSWER for q in case.questions.all()}
    Opinion.objects.filter(pk=opinion.pk).update(narrative=NARRATIVE, answers=answers)
    triage.propose(case=case)
    return walker.walk_to(case, "signed")


def test_the_raw_database_holds_none_of_it_in_the_clear(signed_case):
    proposal = TriageProposal.objects.filter(case=signed_case).first()
    assert proposal is not None and proposal.summary  # the summary exists and reads back
    dump = all_text_in_database()
    opinion = signed_case.opinions.get()
    assert opinion.narrative == NARRATIVE and set(opinion.answers.values()) == {ANSWER}
    for secret in (NARRATIVE, ANSWER, "C50.911", "C50911", BIRTH.isoformat(), "Anneliese", "Vanderbraak",
                   "Optimize medical therapy", "Stress echocardiogram", "I25.110"):
        assert secret not in dump, secret
    summary_words = [w for w in str(proposal.summary).split() if len(w) > 12][:3]
    for word in summary_words:
        assert word not in dump


def test_exact_matches_work_through_keyed_hashes(signed_case, patient_user):
    assert CaseDiagnosis.objects.filter(CaseDiagnosis.matching("c50.911"), case=signed_case).count() == 1
    assert not CaseDiagnosis.objects.filter(CaseDiagnosis.matching("C50.912"), case=signed_case).exists()
    with pytest.raises(IntegrityError), transaction.atomic():  # still one row per code and case
        CaseDiagnosis.objects.create(case=signed_case, code="C50.911", position=5)
    identity = signed_case.identity
    assert identity.birth_date == BIRTH
    assert PatientIdentity.objects.filter(PatientIdentity.matching_birth_date(BIRTH)).filter(pk=identity.pk).exists()
    assert not PatientIdentity.objects.filter(PatientIdentity.matching_birth_date(dt.date(1961, 4, 3))).exists()
    assert list(User.objects.filter(User.matching_name("vanderbraak ANNELIESE"))) == [patient_user]
    assert not User.objects.filter(User.matching_name("Vander")).exists()  # whole words only


def test_save_with_update_fields_keeps_the_index_in_step(patient_user):
    patient_user.last_name = "Okonkwo"
    patient_user.save(update_fields=["last_name"])
    assert User.objects.filter(User.matching_name("okonkwo")).get() == patient_user


def test_rotation_reseals_and_rehashes_and_lookups_work_meanwhile(settings, signed_case):
    settings.KONSIL_MASTER_KEYS = {**settings.KONSIL_MASTER_KEYS, "r2": b"\x05" * 32}
    settings.KONSIL_MASTER_KEY_ID = "r2"
    # before the rotation: values are under the old key, lookups try every configured key
    assert CaseDiagnosis.objects.filter(CaseDiagnosis.matching("C50.911")).exists()
    report = keys.rotate()
    for label in ("cases.CaseDiagnosis", "cases.PatientIdentity", "opinions.Opinion", "triage.TriageProposal",
                  "accounts.User"):
        assert report["resealed_rows"][label] >= 1, label
    opinion = signed_case.opinions.get()
    with connection.cursor() as cursor:
        cursor.execute("SELECT narrative, answers FROM opinions_opinion WHERE id = %s",
                       [opinion.pk.hex if connection.vendor == "sqlite" else opinion.pk])
        narrative, answers = cursor.fetchone()
    assert fields.key_id_of(narrative) == fields.key_id_of(answers) == "r2"
    settings.KONSIL_MASTER_KEYS = {"r2": b"\x05" * 32}  # the old key gone: everything still reads and matches
    assert signed_case.opinions.get().narrative == NARRATIVE
    assert CaseDiagnosis.objects.filter(CaseDiagnosis.matching("C50.911")).exists()
    assert User.objects.filter(User.matching_name("Anneliese")).exists()


def test_rows_written_in_the_clear_are_read_then_sealed(signed_case):
    """What the migrations do for rows written before the columns were encrypted."""
    opinion = signed_case.opinions.get()
    proposal = TriageProposal.objects.filter(case=signed_case).first()

    def pk(obj):
        return obj.pk.hex if connection.vendor == "sqlite" else obj.pk

    with connection.cursor() as cursor:
        cursor.execute("UPDATE opinions_opinion SET narrative = %s WHERE id = %s", ["old clear words", pk(opinion)])
        cursor.execute("UPDATE triage_triageproposal SET summary = %s WHERE id = %s",
                       ['{"one_liner": "legacy"}', pk(proposal)])
        first = signed_case.diagnoses.first()
        cursor.execute("UPDATE cases_casediagnosis SET code = %s, code_index = '' WHERE id = %s", ["Z00.00", pk(first)])
    assert Opinion.objects.get(pk=opinion.pk).narrative == "old clear words"
    assert TriageProposal.objects.get(pk=proposal.pk).summary == {"one_liner": "legacy"}
    for model in (Opinion, TriageProposal, CaseDiagnosis):
        keys.reseal(model)
    dump = all_text_in_database()
    assert "old clear words" not in dump and "legacy" not in dump and "Z00.00" not in dump
    assert CaseDiagnosis.objects.filter(CaseDiagnosis.matching("Z00.00"), case=signed_case).exists()


def test_encrypted_values_are_bound_to_their_column(signed_case):
    opinion = signed_case.opinions.get()
    pk = opinion.pk.hex if connection.vendor == "sqlite" else opinion.pk
    with connection.cursor() as cursor:
        cursor.execute("UPDATE opinions_opinion SET further_tests = narrative WHERE id = %s", [pk])
    from konsil.core.crypto import DecryptionError

    with pytest.raises(DecryptionError):
        Opinion.objects.get(pk=opinion.pk)


def test_code_suggestions_are_encrypted_and_decided_by_code(signed_case, coordinator):
    CodeSuggestion.objects.create(case=signed_case, code="E11.9", source="text", matched="sugar diabetes")
    assert "E11.9" not in all_text_in_database() and "sugar diabetes" not in all_text_in_database()
    assert CodeSuggestion.objects.get(CodeSuggestion.matching("e11.9")).matched == "sugar diabetes"
