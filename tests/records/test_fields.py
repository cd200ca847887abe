"""Encrypted model fields: round trip, tampering, values moved between columns, legacy plaintext, key ids."""

from __future__ import annotations

import base64

import pytest
from django.db import connection

from konsil.cases.models import Patient
from konsil.core import crypto, fields

pytestmark = pytest.mark.django_db


def _db_pk(pk):
    return pk.hex if connection.vendor == "sqlite" else pk  # SQLite keeps UUIDs as 32 hex characters


def raw(column: str, pk) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM cases_patient WHERE id = %s", [_db_pk(pk)])  # noqa: S608
        return cursor.fetchone()[0]


def set_raw(column: str, pk, value: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE cases_patient SET {column} = %s WHERE id = %s", [value, _db_pk(pk)])  # noqa: S608


@pytest.fixture
def patient(draft_case):
    return draft_case.patient


def test_round_trip(patient, settings):
    stored = raw("given_name", patient.pk)
    assert stored.startswith("enc1:")
    assert b"Ana" not in base64.b64decode(stored.split(":", 2)[2])  # the bytes: base64 text may hold "Ana" by chance
    assert fields.key_id_of(stored) == settings.KONSIL_MASTER_KEY_ID
    fresh = Patient.objects.get(pk=patient.pk)
    assert (fresh.given_name, fresh.family_name) == ("Ana", "García")
    fresh.email = "ana@example.test"
    fresh.save()
    assert Patient.objects.get(pk=patient.pk).email == "ana@example.test"
    # the same plaintext seals differently each time (random nonce)
    again = Patient.objects.get(pk=patient.pk)
    again.save()
    assert raw("given_name", patient.pk) != stored


def test_blank_values_stay_blank(patient):
    assert raw("phone", patient.pk) == ""
    assert Patient.objects.get(pk=patient.pk).phone == ""


def test_tampered_value_fails(patient):
    stored = raw("family_name", patient.pk)
    prefix, blob = stored.rsplit(":", 1)
    data = bytearray(base64.b64decode(blob))
    data[-1] ^= 0x01
    set_raw("family_name", patient.pk, f"{prefix}:{base64.b64encode(bytes(data)).decode()}")
    with pytest.raises(crypto.DecryptionError):
        Patient.objects.get(pk=patient.pk)


@pytest.mark.parametrize("garbage", ["not base64 !!", "", "AAAA"])
def test_malformed_value_fails_as_decryption_error(patient, settings, garbage):
    set_raw("family_name", patient.pk, f"enc1:{settings.KONSIL_MASTER_KEY_ID}:{garbage}")
    with pytest.raises(crypto.DecryptionError):
        Patient.objects.get(pk=patient.pk)


def test_value_moved_to_another_column_fails(patient):
    set_raw("family_name", patient.pk, raw("given_name", patient.pk))
    with pytest.raises(crypto.DecryptionError):
        Patient.objects.get(pk=patient.pk)


def test_legacy_plaintext_is_read_and_sealed_on_save(patient):
    set_raw("given_name", patient.pk, "Legacy")
    fresh = Patient.objects.get(pk=patient.pk)
    assert fresh.given_name == "Legacy"
    fresh.save()
    assert raw("given_name", patient.pk).startswith("enc1:")
    assert Patient.objects.get(pk=patient.pk).given_name == "Legacy"


def test_unknown_key_fails(patient, settings):
    sealed = fields.seal_text("x", aad=b"a")
    set_raw("given_name", patient.pk, sealed.replace(f"enc1:{settings.KONSIL_MASTER_KEY_ID}:", "enc1:gone:"))
    with pytest.raises(crypto.DecryptionError, match="not configured"):
        Patient.objects.get(pk=patient.pk)


def test_seal_open_helpers(settings):
    settings.KONSIL_MASTER_KEYS = {**settings.KONSIL_MASTER_KEYS, "other": b"\x07" * 32}
    sealed = fields.seal_text("Grüße", aad=b"m.f", key_id="other")
    assert fields.key_id_of(sealed) == "other"
    assert fields.open_text(sealed, aad=b"m.f") == "Grüße"
    with pytest.raises(crypto.DecryptionError):
        fields.open_text(sealed, aad=b"m.g")
    assert fields.key_id_of("plain") is None and fields.key_id_of("") is None and fields.key_id_of(None) is None
    assert fields.open_text("plain", aad=b"x") == "plain"
    assert [f.name for f in fields.encrypted_fields(Patient)] == ["given_name", "family_name", "birth_date", "email",
                                                                 "phone"]


def test_signatures_hold_no_name_in_the_clear(draft_case, network, patient_user):
    from konsil.cases.models import CaregiverAuthorization
    from tests.factories import make_user

    caregiver = make_user("caregiver", network)
    auth = CaregiverAuthorization.objects.create(caregiver=caregiver, patient=draft_case.patient,
                                                 relationship="daughter", signed_by="Ana García",
                                                 signed_at=draft_case.created_at)
    with connection.cursor() as cursor:
        cursor.execute("SELECT signer_name FROM cases_consent WHERE case_id = %s", [_db_pk(draft_case.pk)])
        consent_raw = cursor.fetchone()[0]
        cursor.execute("SELECT signed_by FROM cases_caregiverauthorization WHERE id = %s", [_db_pk(auth.pk)])
        caregiver_raw = cursor.fetchone()[0]
    for value in (consent_raw, caregiver_raw):
        assert value.startswith(fields.PREFIX) and "García" not in value
    draft_case.consent.refresh_from_db()
    assert draft_case.consent.signer_name == "Ana García"
