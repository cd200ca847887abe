"""FHIR API benchmark (python bench/fhir_api.py): search and read latency against the scoped case list.

A fresh SQLite database in a temporary KONSIL_HOME; one provider network with BENCH_FHIR_CASES cases (default 500,
each with a question and a diagnosis) and a backend client of the network (coordinator scope: it sees them all).
Timed through Django's test client, whole request: `GET /fhir/R4/ServiceRequest?_count=50` (first page, total
counted), the same with `status=active` (FHIR status mapped to Konsil statuses, cut by the database),
`GET /fhir/R4/ServiceRequest/<id>` (one
read), against the same-run baseline of the scoped query that feeds them (`cases_for(user)` first 50 rows,
evaluated). Writes bench/results-fhir.md.
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

RESULTS = Path(__file__).with_name("results-fhir.md")


def timed(fn, repeat: int = 7) -> float:
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def main() -> int:
    n = int(os.environ.get("BENCH_FHIR_CASES", "500"))
    home = tempfile.mkdtemp(prefix="konsil-bench-fhir-")
    os.environ["KONSIL_HOME"] = home
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "konsil.settings")
    os.environ.pop("DATABASE_URL", None)
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    settings.ALLOWED_HOSTS = ["*"]
    from django.test import Client
    from django.utils import timezone
    from joserfc.jwk import ECKey

    from konsil.accounts.models import Organization
    from konsil.cases.models import Case, CaseDiagnosis, CaseQuestion, Patient
    from konsil.cases.selectors import cases_for
    from konsil.fhir.models import AccessToken, digest
    from konsil.fhir.services import register_client

    network = Organization.objects.create(name="Bench network", slug="bench-network", kind="provider_network")
    jwks = {"keys": [ECKey.generate_key("P-384", parameters={"kid": "b"}).as_dict(private=False)]}
    client = register_client(actor="bench", name="Bench", organization=network, jwks=jwks, scopes="system/*.rs")
    user = client.service_user
    for i in range(n):
        patient = Patient.objects.create(network=network, given_name=f"P{i}", family_name="Bench",
                                         birth_date=dt.date(1960, 1, 1 + i % 28), sex="female", state="CA")
        case = Case.objects.create(network=network, patient=patient, requester=user, status="submitted",
                                   submitted_at=timezone.now())
        CaseQuestion.objects.create(case=case, text="Is surgery needed?")
        CaseDiagnosis.objects.create(case=case, code="I25.10")
    AccessToken.objects.create(client=client, digest=digest("bench-token"), scopes=["system/*.rs"],
                               expires_at=timezone.now() + dt.timedelta(hours=1))
    http = Client(HTTP_AUTHORIZATION="Bearer bench-token")
    some = Case.objects.first()

    def search():
        response = http.get("/fhir/R4/ServiceRequest", {"_count": 50})
        assert response.status_code == 200 and response.json()["total"] == n, response.content[:300]

    def search_status():
        response = http.get("/fhir/R4/ServiceRequest", {"_count": 50, "status": "active"})
        assert response.status_code == 200 and response.json()["total"] == n

    def read():
        assert http.get(f"/fhir/R4/ServiceRequest/{some.pk}").status_code == 200

    def baseline():
        list(cases_for(user)[:50])

    base, s, st, r = timed(baseline), timed(search, 5), timed(search_status, 3), timed(read)
    lines = [
        f"# FHIR API benchmark ({dt.date.today().isoformat()}, {platform.machine()}, Python "
        f"{sys.version.split()[0]}, SQLite, {n} cases)",
        "",
        "| what | median | vs scoped list of 50 |",
        "|---|---|---|",
        f"| scoped case list, 50 rows (baseline) | {base * 1000:.1f} ms | 1.0x |",
        f"| GET ServiceRequest?_count=50 (paged and counted by the database) | {s * 1000:.1f} ms | {s / base:.1f}x |",
        f"| GET ServiceRequest?status=active&_count=50 (status cut by the database) | {st * 1000:.1f} ms | "
        f"{st / base:.1f}x |",
        f"| GET ServiceRequest/<id> (one case) | {r * 1000:.1f} ms | {r / base:.1f}x |",
        "",
        "ServiceRequest and Task searches with paging, patient, _id, status and _include are cut by the database "
        "(a FHIR status is mapped to the Konsil statuses it stands for); identifier and _lastUpdated, and the other "
        "types, map every resource the client may see and filter the FHIR resources, so they grow with the "
        "client's case count. AuditEvent is paged by the database. A read looks at one case.",
    ]
    print("\n".join(lines))
    RESULTS.write_text("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
