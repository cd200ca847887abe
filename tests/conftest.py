"""Shared fixtures: a provider network with one user per role and a case walker."""

from __future__ import annotations

import os
import tempfile

import pytest

from konsil.accounts.roles import OrganizationKind, Role

from .factories import OrganizationFactory, make_draft, make_specialist, make_user

os.environ.setdefault("KONSIL_HOME", tempfile.mkdtemp(prefix="konsil-test-"))


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix):
    """On SQLite the test database is a file, as in production, not Django's shared in-memory one: the live
    server's request threads then each get their own connection instead of sharing the test thread's, which
    SQLite's Python driver does not survive under concurrent requests (a consult room's two polling pages)."""
    from django.conf import settings

    database = settings.DATABASES["default"]
    if database["ENGINE"] == "django.db.backends.sqlite3":
        database.setdefault("TEST", {})["NAME"] = os.path.join(os.environ["KONSIL_HOME"], "test.sqlite3")


@pytest.fixture(autouse=True)
def _isolated_settings(settings, tmp_path):
    files = {"BACKEND": "django.core.files.storage.FileSystemStorage",
             "OPTIONS": {"location": str(tmp_path / "files")}}
    settings.STORAGES = {**settings.STORAGES, "default": files}
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.AXES_ENABLED = False
    settings.KONSIL_AUDIT_CHECKPOINTS = str(tmp_path / "audit_checkpoints.log")
    settings.KONSIL_MFA_ENROL_PROOF = False  # tests/accounts/test_mfa_enrolment.py turns it on
    # the shared cache is a database table in the app (tests/core/test_headers.py checks it); tests keep theirs in
    # memory so that tests without the database may clear it
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}


@pytest.fixture(autouse=True)
def _deployment_language():
    """Each test starts and ends in the deployment's language: the language a request activates (LocaleMiddleware)
    stays active in the thread after it, and a Spanish page read by one test worded the next test's reasons."""
    from django.utils import translation

    translation.deactivate()
    yield
    translation.deactivate()


@pytest.fixture(autouse=True, scope="session")
def _flush_lifts_the_audit_triggers():
    """Tests that commit (live server) end with a flush: on SQLite that is a DELETE the audit triggers refuse."""
    from django.db import connection

    if connection.vendor != "sqlite":
        yield
        return
    from django.db.backends.sqlite3.base import DatabaseOperations

    from konsil.audit import dbguard

    original = DatabaseOperations.sql_flush

    def sql_flush(self, style, tables, **kwargs):
        lift = [f"DROP TRIGGER IF EXISTS {name};" for name in dbguard.SQLITE_TRIGGERS]
        put_back = [f"CREATE TRIGGER IF NOT EXISTS {name} {body};" for name, body in dbguard.SQLITE_TRIGGERS.items()]
        return [*lift, *original(self, style, tables, **kwargs), *put_back]

    DatabaseOperations.sql_flush = sql_flush
    yield
    DatabaseOperations.sql_flush = original


@pytest.fixture
def network(db):
    return OrganizationFactory(name="Konsil Network", kind=OrganizationKind.PROVIDER_NETWORK)


@pytest.fixture
def other_network(db):
    return OrganizationFactory(name="Other Network", kind=OrganizationKind.PROVIDER_NETWORK)


@pytest.fixture
def patient_user(network):
    return make_user(Role.PATIENT, network, first_name="Ana", last_name="García")


@pytest.fixture
def coordinator(network):
    return make_user(Role.COORDINATOR, network, first_name="Cora")


@pytest.fixture
def specialist(network):
    return make_specialist(network, specialty="cardiology", states=("CA",), languages=("en", "es"))


@pytest.fixture
def draft_case(network, patient_user):
    return make_draft(network, patient_user)


@pytest.fixture
def other_patient(network):
    return make_user(Role.PATIENT, network, first_name="Otto", last_name="Other")


@pytest.fixture
def other_case(network, other_patient):
    """A draft of another patient in the same network."""
    return make_draft(network, other_patient)


@pytest.fixture
def other_coordinator(other_network):
    return make_user(Role.COORDINATOR, other_network)


@pytest.fixture
def payer(db):
    return OrganizationFactory(name="Acme Health Plan", kind=OrganizationKind.PAYER)


@pytest.fixture
def payer_admin(payer):
    return make_user(Role.PAYER_ADMIN, payer)


@pytest.fixture
def auditor(network):
    return make_user(Role.AUDITOR, network)


class Walker:
    """Drives a case through the real lifecycle services to a given status."""

    PATH = ["draft", "submitted", "triaged", "offered", "accepted", "in_review", "opinion_drafted", "signed",
            "delivered", "closed"]

    def __init__(self, coordinator, specialist):
        self.coordinator = coordinator
        self.specialist = specialist

    def step(self, case, target: str):
        from konsil.cases.services import transition
        from konsil.opinions import services as opinions

        patient = case.patient.user or case.requester
        s_user = self.specialist.user
        moves = {
            "submitted": lambda: transition(actor=patient, case=case, action="submit"),
            "triaged": lambda: transition(actor=self.coordinator, case=case, action="triage",
                                          specialty="cardiology", urgency="routine"),
            "offered": lambda: transition(actor=self.coordinator, case=case, action="offer",
                                          specialist=str(self.specialist.pk), reason="The test's specialist"),
            "accepted": lambda: transition(actor=s_user, case=case, action="accept"),
            "in_review": lambda: transition(actor=s_user, case=case, action="start_review"),
            "opinion_drafted": lambda: (
                opinions.save_draft(actor=s_user, case=case, data=complete_opinion(case)),
                transition(actor=s_user, case=case, action="complete_draft"),
            )[-1],
            "signed": lambda: transition(actor=s_user, case=case, action="sign"),
            "delivered": lambda: transition(actor=self.coordinator, case=case, action="deliver"),
            "closed": lambda: transition(actor=patient, case=case, action="close"),
        }
        return moves[target]()

    def walk_to(self, case, status: str):
        from konsil.cases.services import transition

        if status in ("cancelled", "withdrawn", "info_requested"):
            if status == "cancelled":
                case = self.walk_to(case, "submitted")
                return transition(actor=self.coordinator, case=case, action="cancel", reason="duplicate")
            if status == "withdrawn":
                return transition(actor=case.patient.user or case.requester, case=case, action="withdraw")
            case = self.walk_to(case, "in_review")
            return transition(actor=self.specialist.user, case=case, action="request_info",
                              message="Please upload the echo report.")
        for target in self.PATH[self.PATH.index(case.status) + 1: self.PATH.index(status) + 1]:
            case = self.step(case, target)
        return case


def complete_opinion(case) -> dict:
    return {
        "diagnosis_verdict": "refined",
        "revised_diagnosis": "I25.110",
        "treatment_verdict": "modify",
        "treatment_recommendation": "Optimize medical therapy first; stent only if symptoms persist.",
        "answers": {str(q.pk): "Not now; medication first." for q in case.questions.all()},
        "further_tests": "Stress echocardiogram",
        "narrative": "Stable angina with a single-vessel lesion.",
        "confidence": "high",
    }


@pytest.fixture
def walker(coordinator, specialist):
    return Walker(coordinator, specialist)


def verified_login(client, user):
    """Sign in `user` with a confirmed TOTP device, as after the MFA step."""
    from django_otp import DEVICE_ID_SESSION_KEY
    from django_otp.plugins.otp_totp.models import TOTPDevice

    client.force_login(user)
    device = TOTPDevice.objects.filter(user=user, confirmed=True).first() or TOTPDevice.objects.create(
        user=user, name="test", confirmed=True)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    return client


@pytest.fixture
def login():
    return verified_login


def _commits(item) -> bool:
    """Whether a test commits (live server, transactional_db, django_db(transaction=True)): it ends with a flush."""
    names = getattr(item, "fixturenames", ())
    if "live_server" in names or "transactional_db" in names:
        return True
    return any(mark.kwargs.get("transaction") or (mark.args and mark.args[0])
               for mark in item.iter_markers("django_db"))


def pytest_collection_modifyitems(items):
    """Tests that commit flush the database when they end: each restores the migrations' data (specialty catalog,
    content types with their ids) so that a flush in one never leaves the next with re-created rows."""
    for item in items:
        if _commits(item):
            item.add_marker(pytest.mark.django_db(transaction=True, serialized_rollback=True), append=False)
