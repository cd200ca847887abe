"""On 100,000 cases, the hot list pages and endpoints read the case table through indexes (PostgreSQL EXPLAIN):
what each page really runs is captured and explained, for a patient, a coordinator and a specialist."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from konsil.accounts.roles import OrganizationKind, Role
from konsil.cases.models import Case, Patient

from ..factories import OrganizationFactory, make_user

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="query plans are checked on PostgreSQL"),
]
CASES, PATIENTS, NETWORKS = 100_000, 20_000, 50
STATUSES = ["submitted", "triaged", "offered", "in_review", "delivered", "closed", "draft", "accepted"]


def clone_sql(model, template_pk, rows: int, overrides: dict[str, str]) -> str:
    """INSERT ... SELECT that copies one row `rows` times (g = 1..rows), some columns given as SQL expressions."""
    columns = [f.column for f in model._meta.local_concrete_fields]
    values = [overrides.get(column, f't."{column}"') for column in columns]
    table = model._meta.db_table
    quoted = ", ".join(f'"{column}"' for column in columns)
    return (f'INSERT INTO "{table}" ({quoted}) '
            f'SELECT {", ".join(values)} FROM "{table}" t, generate_series(1, {rows}) g '
            f"WHERE t.id = '{template_pk}'")


@pytest.fixture
def many_cases(network, draft_case, specialist):
    """100,000 cases of 20,000 patients across 20 networks; the fixtures' users keep a handful each."""
    filler = make_user(Role.REFERRING_CLINICIAN, network)  # the bulk's requester: none of the users tested
    networks = [network.pk] + [OrganizationFactory(kind=OrganizationKind.PROVIDER_NETWORK).pk
                               for _ in range(NETWORKS - 1)]
    net_array = "(ARRAY[" + ",".join(f"'{pk}'::uuid" for pk in networks) + "])"
    with connection.cursor() as cursor:
        cursor.execute(clone_sql(Patient, draft_case.patient_id, PATIENTS, {
            "id": "md5('p' || g)::uuid", "user_id": "NULL",
            "network_id": f"{net_array}[1 + g % {NETWORKS}]"}))
        cursor.execute(clone_sql(Case, draft_case.pk, CASES, {
            "id": "gen_random_uuid()", "reference": "'LD' || lpad(g::text, 8, '0')",
            "patient_id": f"md5('p' || (1 + g % {PATIENTS}))::uuid",
            "requester_id": f"'{filler.pk}'", "assigned_specialist_id": "NULL",
            "network_id": f"{net_array}[1 + (g / 7) % {NETWORKS}]",
            "status": "(ARRAY[" + ",".join(f"'{s}'" for s in STATUSES) + f"])[1 + g % {len(STATUSES)}]",
            "created_at": "now() - g * interval '1 minute'", "updated_at": "now() - g * interval '1 minute'"}))
        cursor.execute("ANALYZE cases_case; ANALYZE cases_patient")

    assert Patient.objects.count() > PATIENTS
    ids = list(Case.objects.filter(network=network, status="in_review").values_list("pk", flat=True)[:3])
    Case.objects.filter(pk__in=ids).update(assigned_specialist=specialist.pk)
    return networks


def seq_scans_of_cases(queries) -> list[str]:
    found = []
    with connection.cursor() as cursor:
        for query in queries:
            sql = query["sql"]
            if "cases_case" not in sql or not sql.lstrip().upper().startswith("SELECT"):
                continue
            cursor.execute("EXPLAIN " + sql)
            plan = "\n".join(row[0] for row in cursor.fetchall())
            if "Seq Scan on cases_case " in plan + " ":
                found.append(f"{sql[:300]}\n{plan}")
    return found


def explain_pages(client, login, user, urls) -> str:
    login(client, user)
    problems = []
    for url in urls:
        with CaptureQueriesContext(connection) as queries:
            response = client.get(url)
        assert response.status_code in (200, 302), url
        problems += seq_scans_of_cases(queries.captured_queries)
    if problems:
        pytest.fail("sequential scans of the case table:\n\n" + "\n\n".join(problems), pytrace=False)
    return ""


def test_patient_pages_use_indexes(many_cases, client, login, patient_user):
    assert Case.objects.count() > CASES
    urls = [reverse("home"), reverse("cases:mine"), "/api/v1/cases/"]
    assert explain_pages(client, login, patient_user, urls) == ""


def test_coordinator_pages_use_indexes(many_cases, client, login, coordinator):
    urls = [reverse("cases:queue"), "/api/v1/cases/", "/api/v1/cases/?status=submitted"]
    assert explain_pages(client, login, coordinator, urls) == ""


def test_specialist_pages_use_indexes(many_cases, client, login, specialist):
    assert explain_pages(client, login, specialist.user, [reverse("opinions:workspace"), "/api/v1/cases/"]) == ""


def test_a_case_read_uses_indexes(many_cases, client, login, coordinator):
    case = Case.objects.filter(network=many_cases[0]).order_by("-created_at").first()
    assert explain_pages(client, login, coordinator, [f"/api/v1/cases/{case.pk}/"]) == ""
