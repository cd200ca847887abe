"""Prepared reads (core.prepared): compiled once, the same answers as the ORM, the ORM where they cannot be."""

from __future__ import annotations

import threading
import uuid

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, models
from django.db.models import Count
from django.db.models.sql.compiler import SQLCompiler
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from konsil.accounts.roles import OrganizationKind, Role
from konsil.cases.models import Case, CaseQuestion
from konsil.cases.selectors import CASE_RELATED
from konsil.core.prepared import ID, Prepared

from ..factories import OrganizationFactory, make_draft, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def cases():
    net = OrganizationFactory(kind=OrganizationKind.PROVIDER_NETWORK)
    first, second = make_user(Role.PATIENT, net), make_user(Role.PATIENT, net)
    return make_draft(net, first), make_draft(net, second, questions=("Is surgery needed?", "What if I wait?"))


def _compiles(monkeypatch) -> list:
    """Every SELECT compiled from here on."""
    seen, original = [], SQLCompiler.as_sql

    def as_sql(self, *args, **kwargs):
        seen.append(self.query.model)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(SQLCompiler, "as_sql", as_sql)
    return seen


def test_a_prepared_read_gives_what_the_orm_gives_and_compiles_once(cases, monkeypatch):
    read = Prepared(Case, lambda pk: Case.objects.select_related(*CASE_RELATED).filter(pk=pk), pk=ID)
    compiles = _compiles(monkeypatch)
    got = []
    for case in cases:
        with CaptureQueriesContext(connection) as queries:
            found = read.first(pk=case.pk)
            # select_related filled: reading the patient, identity and network asks nothing more
            got.append((found, (found.patient.given_name, found.identity.family_name, found.network.name)))
        assert len(queries) == 1
    assert compiles.count(Case) == 2  # the two stand-in compiles, for both reads
    for case, (found, names) in zip(cases, got, strict=True):
        orm = Case.objects.select_related(*CASE_RELATED).get(pk=case.pk)
        assert names == (orm.patient.given_name, orm.identity.family_name, orm.network.name)
        for field in Case._meta.concrete_fields:  # the encrypted ones decrypted, dates and JSON converted
            assert getattr(found, field.attname) == getattr(orm, field.attname), field.name
        assert found._state.db == "default" and not found._state.adding
    assert read.first(pk=uuid.uuid4()) is None


def test_each_call_binds_its_own_values(cases):
    questions = Prepared(CaseQuestion, lambda case: CaseQuestion.objects.filter(case=case).order_by("position"),
                         case=ID)
    texts = [[q.text for q in questions(case=case)] for case in cases]
    assert texts == [["Do I need a stent?"], ["Is surgery needed?", "What if I wait?"]]
    assert [q.text for q in questions(case=cases[1])] == texts[1]  # a model instance or its key


def test_rows_of_a_values_list_and_of_a_union(cases):
    first, second = cases
    ids = Prepared(Case, lambda a, b: Case.objects.filter(pk=a).values_list("pk", flat=True).order_by().union(
        Case.objects.filter(pk=b).values_list("pk", flat=True).order_by()), a=ID, b=ID)
    assert ids.compiled("default") is not None
    assert set(ids(a=first.pk, b=second.pk)) == {first.pk, second.pk}
    pairs = Prepared(Case, lambda pk, since: Case.objects.filter(pk=pk, created_at__gte=since).values_list(
        "reference", "status"), pk=ID, since=models.DateTimeField())
    long_ago = timezone.now() - timezone.timedelta(days=1)
    assert pairs(pk=first.pk, since=long_ago) == [(first.reference, first.status)]
    assert pairs(pk=first.pk, since=timezone.now() + timezone.timedelta(days=1)) == []


def test_rows_of_a_values_list_with_annotations_come_in_the_orm_order(cases):
    """Annotations listed before, after or between fields, and grouped counts: the rows the ORM gives."""
    network = cases[0].network_id
    shapes = {
        "grouped": lambda net: Case.objects.filter(network=net).order_by().values_list("status").annotate(
            n=Count("id")),
        "before": lambda net: Case.objects.filter(network=net).annotate(asked=Count("questions")).values_list(
            "asked", "reference").order_by("reference"),
        "between": lambda net: Case.objects.filter(network=net).annotate(asked=Count("questions")).values_list(
            "reference", "asked", "created_at").order_by("reference"),
        "flat": lambda net: Case.objects.filter(network=net).annotate(asked=Count("questions")).values_list(
            "asked", flat=True).order_by("asked"),
    }
    for name, build in shapes.items():
        read = Prepared(Case, build, net=ID)
        assert read.compiled("default") is not None, name
        assert read(net=network) == list(build(network)), name
    rows = Prepared(Case, shapes["between"], net=ID)(net=network)
    assert {reference: asked for reference, asked, _created in rows} == {cases[0].reference: 1, cases[1].reference: 2}


def test_values_of_one_kind_are_told_apart(cases):
    """Two moments of one query get different stand-ins, so each finds its own place in the SQL (the queue's
    due-soon list compares each urgency with its own moment)."""
    first, _second = cases
    moment = models.DateTimeField()
    between = Prepared(Case, lambda start, end: Case.objects.filter(
        created_at__gte=start, created_at__lt=end).values_list("pk", flat=True), start=moment, end=moment)
    assert between.compiled("default") is not None
    now, day = timezone.now(), timezone.timedelta(days=1)
    assert first.pk in between(start=now - day, end=now + day)
    assert between(start=now + day, end=now + 2 * day) == between(start=now - 2 * day, end=now - day) == []


def test_a_value_the_orm_transforms_is_read_through_the_orm(cases):
    """icontains wraps the value in a pattern: it is never found among the parameters, so nothing is cached."""
    by_text = Prepared(Case, lambda text: Case.objects.filter(reference__icontains=text), text=models.CharField())
    assert by_text.compiled("default") is None
    first, _second = cases
    assert [c.pk for c in by_text(text=first.reference[2:].lower())] == [first.pk]


def test_a_shape_that_depends_on_the_values_is_read_through_the_orm(cases):
    """Built differently for the two sets of stand-ins: the SQL disagrees, so the ORM answers."""
    def build(pk):
        found = Case.objects.filter(pk=pk)
        return found.filter(status="draft") if pk.int % 2 else found
    shifty = Prepared(Case, build, pk=ID)
    outcomes = {shifty._compile("default") is None for _ in range(30)}
    assert True in outcomes  # in thirty tries, a pair of stand-ins split (odd and even) and was refused
    assert {c.pk for c in shifty(pk=cases[0].pk)} == {cases[0].pk}


def test_none_is_read_as_the_orm_reads_it(cases):
    """filter(sponsor=None) means IS NULL to the ORM: a None value is not bound into `= %s`."""
    by_sponsor = Prepared(Case, lambda sponsor: Case.objects.filter(sponsor=sponsor), sponsor=ID)
    assert {c.pk for c in by_sponsor(sponsor=None)} == {c.pk for c in cases}
    assert by_sponsor(sponsor=uuid.uuid4()) == []


def test_a_bad_value_is_refused_as_the_orm_refuses_it(cases):
    read = Prepared(Case, lambda pk: Case.objects.filter(pk=pk), pk=ID)
    with pytest.raises(ValidationError):
        read(pk="not-a-uuid")
    with pytest.raises(TypeError):
        read(key=cases[0].pk)
    with pytest.raises(TypeError):
        Prepared(Case, lambda flag: Case.objects.filter(sla_paused=flag), flag=models.BooleanField())


def test_prefetching_is_left_to_the_orm(cases):
    read = Prepared(Case, lambda pk: Case.objects.filter(pk=pk).prefetch_related("questions"), pk=ID)
    assert read.compiled("default") is None
    assert [q.text for q in read.first(pk=cases[1].pk).questions.all()] == ["Is surgery needed?",
                                                                              "What if I wait?"]


def test_every_prepared_read_of_the_app_compiles_here(db):
    """A hot read that silently went back to the ORM (a value it no longer finds) would only be slower: caught
    here, on each engine CI runs."""
    import konsil.urls  # noqa: F401 (every view module, and the modules they use)
    from konsil.core import prepared

    ours = [p for p in prepared.DEFINED if p.build.__module__.startswith("konsil.")]
    assert len(ours) >= 21  # the queue's alert lists (cases.sla) among them
    assert [p.build.__module__ for p in ours if p.compiled("default") is None] == []


def test_concurrent_first_calls_compile_once():
    builds, lock = [], threading.Lock()

    def build(pk):
        with lock:
            builds.append(pk)
        return Case.objects.select_related(*CASE_RELATED).filter(pk=pk)

    read = Prepared(Case, build, pk=ID)
    barrier, got = threading.Barrier(8), []

    def first_call():
        barrier.wait()
        got.append(read.compiled("default"))

    threads = [threading.Thread(target=first_call) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(builds) == 2 and len({id(c) for c in got}) == 1 and got[0] is not None
