"""Review findings on the specialist import: bad input is reported per row or per file, never a server error."""

from __future__ import annotations

import io
import json
import threading
import time
import types

import pytest
from django.conf import settings
from django.db import connection

from konsil.accounts.models import Membership
from konsil.accounts.roles import OrganizationKind, Role
from konsil.core.errors import Conflict
from konsil.matching.importing import import_specialists
from konsil.matching.models import AssignmentRun, Specialist

from ..factories import OrganizationFactory, make_user, valid_npi

BASE = {"specialties": ["cardiology"], "languages": ["en"]}


def row(seed: int, **extra) -> dict:
    return {"email": f"doc{seed}@example.test", "npi": valid_npi(910000 + seed), **BASE, **extra}


def jsonl(*lines) -> io.BytesIO:
    return io.BytesIO("\n".join(x if isinstance(x, str) else json.dumps(x) for x in lines).encode())


def run(network, coordinator, data, fmt="jsonl"):
    return import_specialists(data, fmt=fmt, network=network, actor=coordinator)


def errors_of(report) -> list:
    return [(r.row, r.ok, sorted(r.errors)) for r in report.rows]


def test_numbers_python_cannot_convert_are_field_errors(network, coordinator):
    report = run(network, coordinator, jsonl(row(1, on_time_rate=10 ** 400), row(2, fee="sNaN"),
                                             row(3, peer_review_score="1e400"), row(4)))
    assert errors_of(report) == [(1, False, ["on_time_rate"]), (2, False, ["fee"]), (3, False, ["peer_review_score"]),
                                 (4, True, [])]


def test_a_signalling_nan_fee_in_csv_is_a_field_error(network, coordinator):
    text = f"email,npi,specialties,languages,fee\ndoc@example.test,{valid_npi(910100)},cardiology,en,sNaN\n"
    report = run(network, coordinator, io.BytesIO(text.encode()), "csv")
    assert errors_of(report) == [(2, False, ["fee"])]


def test_deeply_nested_json_is_a_row_error(network, coordinator):
    deep = '{"email": ' + "[" * 5000 + "]" * 5000 + "}"
    report = run(network, coordinator, jsonl(deep, row(5)))
    assert errors_of(report) == [(1, False, ["row"]), (2, True, [])]
    cell = "[" * 5000
    text = f'email,npi,specialties,languages,licenses\ndoc@example.test,{valid_npi(910006)},cardiology,en,"{cell}"\n'
    report = run(network, coordinator, io.BytesIO(text.encode()), "csv")
    assert errors_of(report) == [(2, False, ["licenses"])]


def test_an_integer_of_too_many_digits_fails_its_line_only(network, coordinator):
    report = run(network, coordinator, jsonl('{"capacity": ' + "9" * 5000 + "}", row(7)))
    assert not report.file_error
    assert errors_of(report) == [(1, False, ["row"]), (2, True, [])]


def test_an_oversized_csv_header_is_a_file_error(network, coordinator):
    text = "email,npi,specialties,languages," + "x" * 200_000 + "\n"
    report = run(network, coordinator, io.BytesIO(text.encode()), "csv")
    assert report.file_error.startswith("Not valid CSV") and not report.rows


def test_a_repeated_csv_column_is_refused_not_half_read(network, coordinator):
    text = (f"email,npi,specialties,languages,npi\n"
            f"doc@example.test,{valid_npi(910008)},cardiology,en,{valid_npi(910009)}\n")
    report = run(network, coordinator, io.BytesIO(text.encode()), "csv")
    assert report.file_error == "Repeated columns: npi." and not Specialist.objects.exists()


def test_nul_characters_are_reported_not_sent_to_the_database(network, coordinator):
    report = run(network, coordinator, jsonl(row(10, institution="St\x00Mary", first_name="A\x00"),
                                             row(11, board_certifications=[{"board": "AB\x00IM", "specialty": "c"}])))
    assert errors_of(report) == [(1, False, ["first_name", "institution"]), (2, False, ["board_certifications"])]
    assert not Specialist.objects.exists()


@pytest.mark.parametrize("field", ["first_name", "last_name", "institution", "in_person_location"])
def test_spreadsheet_formulas_are_refused_in_free_text(network, coordinator, field):
    text = f'email,npi,specialties,languages,{field}\ndoc@example.test,{valid_npi(910012)},cardiology,en,"=HYPERLINK(""http://evil"")"\n'
    report = run(network, coordinator, io.BytesIO(text.encode()), "csv")
    assert errors_of(report) == [(2, False, [field])]
    report = run(network, coordinator, jsonl(row(13, affiliations=["@SUM(A1:A2)"])))
    assert errors_of(report) == [(1, False, ["affiliations"])]


def test_a_currency_code_is_ascii(network, coordinator):
    assert errors_of(run(network, coordinator, jsonl(row(14, fee_currency="ÄÖÜ")))) == [(1, False, ["fee_currency"])]


def test_an_account_of_another_network_is_not_taken_over(network, other_network, coordinator):
    theirs = make_user(Role.COORDINATOR, other_network, email="olga@example.test")
    report = run(network, coordinator, jsonl({**row(15), "email": "OLGA@example.test"}))
    assert errors_of(report) == [(1, False, ["email"])]
    assert not Specialist.objects.filter(user=theirs).exists()
    assert not Membership.objects.filter(user=theirs, organization=network).exists()


def test_the_import_page_reports_hostile_files_without_a_server_error(client, login, network, coordinator):
    login(client, coordinator)
    deep = io.BytesIO(('{"email": ' + "[" * 5000 + "]" * 5000 + "}\n").encode())
    deep.name = "deep.jsonl"
    response = client.post("/matching/import/", {"network": network.pk, "fmt": "jsonl", "file": deep})
    assert response.status_code == 200 and "Not valid JSON" in response.content.decode()
    header = io.BytesIO(("email,npi,specialties,languages," + "x" * 200_000 + "\n").encode())
    header.name = "header.csv"
    response = client.post("/matching/import/", {"network": network.pk, "fmt": "csv", "file": header})
    assert response.status_code == 400 and "Not valid CSV" in response.content.decode()


@pytest.mark.skipif(not settings.DATABASES["default"]["ENGINE"].endswith("postgresql"),
                    reason="row locks need PostgreSQL")
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_batch_requests_at_once_queue_one_run(monkeypatch):
    from konsil.matching import services, tasks

    network = OrganizationFactory(kind=OrganizationKind.PROVIDER_NETWORK)
    coordinator = make_user(Role.COORDINATOR, network)
    real_emit = services.emit

    def slow_emit(**kwargs):  # the first request holds its transaction open a while after creating its run
        real_emit(**kwargs)
        time.sleep(0.5)

    monkeypatch.setattr(services, "emit", slow_emit)
    monkeypatch.setattr(tasks, "run_batch_assignment", types.SimpleNamespace(enqueue=lambda *args: None))
    outcomes = []

    def request():
        try:
            services.request_batch(actor=coordinator, network=network)
            outcomes.append("queued")
        except Conflict:
            outcomes.append("conflict")
        finally:
            connection.close()

    threads = [threading.Thread(target=request) for _ in range(2)]
    threads[0].start()
    time.sleep(0.1)
    threads[1].start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["conflict", "queued"]
    assert AssignmentRun.objects.filter(network=network).count() == 1
