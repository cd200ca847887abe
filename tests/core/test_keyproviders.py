"""Key providers: the key file (default), the environment, and HashiCorp Vault Transit over HTTP."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from django.db import connection

from konsil.cases.models import Attachment, Patient
from konsil.core import crypto, fields, keyproviders, keys
from konsil.records import intake

from .transit_server import serve

pytestmark = pytest.mark.django_db
TOKEN = "s.transit-test"


@pytest.fixture
def vault(settings):
    server, transit, url = serve(TOKEN)
    transit.keys["konsil"] = [os.urandom(32)]
    settings.KONSIL_KEY_PROVIDER = "vault"
    settings.KONSIL_VAULT = {"url": url, "token": TOKEN, "key": "konsil", "mount": "transit"}
    yield transit
    server.shutdown()


def raw(table: str, column: str, pk) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM {table} WHERE id = %s", [pk.hex if connection.vendor == "sqlite"
                                                                        else pk])  # noqa: S608
        value = cursor.fetchone()[0]
    return bytes(value).decode() if isinstance(value, (bytes, memoryview)) else value


def test_default_is_the_key_file_and_matches_the_old_derivation(settings):
    keys_now = keyproviders.provider()
    assert keys_now.name in ("file", "env") and keys_now.current_key_id() == settings.KONSIL_MASTER_KEY_ID
    # values sealed before providers existed (HKDF of the master key) still open
    master = settings.KONSIL_MASTER_KEYS[settings.KONSIL_MASTER_KEY_ID]
    assert keys_now.derive(settings.KONSIL_MASTER_KEY_ID, fields.FIELD_PURPOSE) == keyproviders._hkdf(
        master, b"konsil field encryption v1")


def test_unknown_provider_is_refused(settings):
    settings.KONSIL_KEY_PROVIDER = "kms-of-my-own"
    with pytest.raises(Exception, match="file, env or vault"):
        keyproviders.provider()


def _settings_in_subprocess(env: dict) -> subprocess.CompletedProcess:
    code = ("import django, os; os.environ['DJANGO_SETTINGS_MODULE']='konsil.settings'; django.setup();"
            "from konsil.core.keyproviders import provider; p = provider(); print(p.name, p.current_key_id())")
    clean = {k: v for k, v in os.environ.items() if not k.startswith("KONSIL_")}
    return subprocess.run([sys.executable, "-c", code], env={**clean, **env}, capture_output=True, text=True,
                          timeout=60)


def test_environment_provider_needs_its_keys(tmp_path):
    missing = _settings_in_subprocess({"KONSIL_HOME": str(tmp_path), "KONSIL_KEY_PROVIDER": "env"})
    assert missing.returncode != 0 and "KONSIL_MASTER_KEYS" in missing.stderr
    assert not (tmp_path / "master_keys").exists()  # nothing invented on disk
    given = _settings_in_subprocess({"KONSIL_HOME": str(tmp_path), "KONSIL_MASTER_KEYS": "e1:" + "A" * 43 + "="})
    assert given.stdout.split() == ["env", "e1"]
    filed = _settings_in_subprocess({"KONSIL_HOME": str(tmp_path)})
    assert filed.stdout.split()[0] == "file" and (tmp_path / "master_keys").stat().st_mode & 0o077 == 0


def test_vault_wraps_data_keys_and_derives_field_keys(vault, draft_case, patient_user):
    sealed = crypto.encrypt(b"scan bytes", aad=b"obj")
    assert sealed.key_id == "konsil.v1" and sealed.wrapped_key.startswith(b"vault:v1:")
    assert crypto.decrypt(sealed, aad=b"obj") == b"scan bytes"

    patient = Patient.objects.get(pk=draft_case.patient_id)
    patient.family_name = "Nakamura"
    patient.save()
    stored = raw("cases_patient", "family_name", patient.pk)
    assert stored.startswith("enc1:konsil.v1:") and "Nakamura" not in stored
    assert Patient.objects.get(pk=patient.pk).family_name == "Nakamura"
    # field keys are asked of Vault once per version, not once per value
    hmacs = [c for c in vault.calls if "/hmac/" in c]
    Patient.objects.get(pk=patient.pk).save()
    assert [c for c in vault.calls if "/hmac/" in c] == hmacs


def test_vault_rotation_moves_everything_to_the_new_version(vault, settings, draft_case, patient_user):
    record = intake.store_record(actor=patient_user, case=draft_case, content=b"%PDF-1.4 notes", filename="a.pdf",
                                 process=False)
    Patient.objects.get(pk=draft_case.patient_id).save()
    vault.keys["konsil"].append(os.urandom(32))  # `vault write -f transit/keys/konsil/rotate`
    keyproviders.provider()._versions = None  # the next look-up sees the new latest version at once
    report = keys.rotate()
    assert report["master_key"] == "konsil.v2"
    attachment = Attachment.objects.get(pk=record.pk)
    assert attachment.key_id == "konsil.v2" and bytes(attachment.wrapped_key).startswith(b"vault:v2:")
    assert raw("cases_patient", "family_name", draft_case.patient_id).startswith("enc1:konsil.v2:")
    assert keys.status()["provider"] == "vault" and keys.status()["configured"] == ["konsil.v1", "konsil.v2"]


def test_vault_refusals_are_clear(vault, settings):
    sealed = crypto.encrypt(b"x")
    with pytest.raises(crypto.DecryptionError, match="does not belong"):
        crypto.unwrap_key(sealed.wrapped_key, "konsil.v2")
    tampered = sealed.wrapped_key[:-4] + b"AAA="
    with pytest.raises(crypto.DecryptionError):
        crypto.unwrap_key(tampered, "konsil.v1")
    with pytest.raises(keyproviders.KeyUnavailable, match="not a version"):
        crypto.unwrap_key(sealed.wrapped_key, "k1")
    settings.KONSIL_VAULT = {**settings.KONSIL_VAULT, "token": "s.wrong"}
    with pytest.raises(keyproviders.KeyUnavailable, match="Forbidden"):
        crypto.encrypt(b"x")
    settings.KONSIL_VAULT = {**settings.KONSIL_VAULT, "url": "http://127.0.0.1:9", "token": TOKEN}
    with pytest.raises(keyproviders.KeyUnavailable):
        crypto.encrypt(b"x")
