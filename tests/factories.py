"""Test data builders. `walk_to(status)` drives a case through the real lifecycle services."""

from __future__ import annotations

import datetime as dt
import itertools
from contextlib import contextmanager

import factory
from django.utils import timezone

from konsil.accounts.models import Membership, Organization, User
from konsil.accounts.roles import OrganizationKind, Role
from konsil.cases.models import Case, CaseDiagnosis, CaseQuestion, Consent, Patient
from konsil.matching.models import License, Specialist
from konsil.matching.npi import npi_check_digit

_npi = itertools.count(1)


def valid_npi(seed: int) -> str:
    """A 10-digit NPI passing the Luhn check with the 80840 prefix."""
    base = f"1{seed:08d}"
    return base + npi_check_digit(base)


class OrganizationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Organization

    name = factory.Sequence(lambda n: f"Network {n}")
    slug = factory.Sequence(lambda n: f"org-{n}")
    kind = OrganizationKind.PROVIDER_NETWORK


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.test")
    username = factory.LazyAttribute(lambda o: o.email)
    first_name = "Test"
    last_name = factory.Sequence(lambda n: f"User{n}")
    password = factory.PostGenerationMethodCall("set_password", "correct horse battery")

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):
        if create:
            obj.save()


def make_user(role: str, org: Organization, **kwargs) -> User:
    user = UserFactory(**kwargs)
    Membership.objects.create(user=user, organization=org, role=role)
    return user


def make_specialist(network: Organization, *, specialty: str = "cardiology", states=("CA",),
                    languages=("en",), capacity: int = 5, **kwargs) -> Specialist:
    user = make_user(Role.SPECIALIST, network, **kwargs)
    specialist = Specialist.objects.create(user=user, network=network, npi=valid_npi(next(_npi)),
                                           languages=list(languages), capacity=capacity)
    specialist.specialties.add(specialty)
    for state in states:
        License.objects.create(specialist=specialist, state=state, number=f"L{state}{specialist.npi[-4:]}",
                               expires_on=timezone.localdate() + dt.timedelta(days=365))
    return specialist


def make_patient(network: Organization, user: User | None = None, **kwargs) -> Patient:
    defaults = {"given_name": "Ana", "family_name": "García", "birth_date": dt.date(1970, 5, 17),
                "sex": "female", "state": "CA", "country": "US", "language": "en"}
    defaults.update(kwargs)
    return Patient.objects.create(network=network, user=user, **defaults)


def make_draft(network: Organization, patient_user: User, *, codes=("I25.10",), questions=("Do I need a stent?",),
               consent: bool = True, **kwargs) -> Case:
    """A complete draft case owned by `patient_user`, ready to submit."""
    patient = Patient.objects.filter(user=patient_user, network=network).first() or make_patient(
        network, patient_user)
    case = Case.objects.create(network=network, patient=patient, requester=patient_user,
                               proposed_treatment="Coronary stent", **kwargs)
    for i, q in enumerate(questions):
        CaseQuestion.objects.create(case=case, position=i, text=q)
    for i, c in enumerate(codes):
        CaseDiagnosis.objects.create(case=case, position=i, code=c)
    if consent:
        Consent.objects.create(case=case, scope=["obtain_records", "share_with_reviewers", "share_report"],
                               signer_name="Ana García", signed_at=timezone.now())
    return case


def set_identity(case: Case, **fields) -> None:
    """Change the patient identity version `case` points at in place, as a data fix would (tests only: a version
    used by a submitted case is immutable through the models, cases.identity)."""
    type(case.identity).objects.filter(pk=case.identity_id).update(**fields)
    case.identity.refresh_from_db()


@contextmanager
def audit_trigger_disabled():
    """Let a test tamper with the audit trail as a database administrator could: the triggers of both engines
    lifted, and the ORM's refusal of QuerySet.update/delete too."""
    from unittest import mock

    from django.db import connection
    from django.db.models import QuerySet

    from konsil.audit import dbguard
    from konsil.audit.models import AuditQuerySet

    toggle = "ALTER TABLE {} {} TRIGGER {}"
    with connection.cursor() as cursor, mock.patch.object(AuditQuerySet, "update", QuerySet.update), \
            mock.patch.object(AuditQuerySet, "delete", QuerySet.delete):
        if connection.vendor == "postgresql":
            for table, trigger in dbguard.PG_TRIGGERS.items():
                cursor.execute(toggle.format(table, "DISABLE", trigger))
        else:
            dbguard.uninstall(connection)
        try:
            yield cursor
        finally:
            if connection.vendor == "postgresql":
                for table, trigger in dbguard.PG_TRIGGERS.items():
                    cursor.execute(toggle.format(table, "ENABLE", trigger))
            else:
                dbguard.install(connection)


def api_token(user) -> str:
    """A fresh API token's secret for `user` (only its hash is stored)."""
    from konsil.accounts.models import ApiToken

    return ApiToken.issue(user=user)[1]
