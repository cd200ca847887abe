"""Auto-routing benchmark (make bench-routing): time from submit to offered in the embedded default.

A fresh SQLite database in a temporary KONSIL_HOME, the demo data (auto-routing on), and the database task worker
started as a subprocess exactly as `konsil run` starts it (`python -m django db_worker`). Each case is a new
patient's draft submitted through the lifecycle (as the patient), one after the other; the figure is the time
from the submission (Case.submitted_at) to the automatic offer (Offer.created_at), and the wall time until the
bench process sees the offer. Same-run baselines: a bare submit (the transition call alone) and one triage
proposal computed in-process. Writes bench/results-routing.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RESULTS = Path(__file__).with_name("results-routing.md")
TARGET_MEDIAN_S = 10.0

# (diagnosis codes, proposed treatment, the case in the patient's words, patient's state, language, sex, birth year)
CASES = [
    (("C50.911",), "Right mastectomy and chemotherapy",
     "58-year-old woman, invasive ductal carcinoma of the right breast, ER/PR positive, HER2 negative.", "CA", "en",
     "female", 1968),
    (("I25.10",), "Coronary stent", "Chest pain on exertion, a narrowed coronary artery on the angiogram.", "CA",
     "en", "male", 1961),
    (("M17.11",), "Total knee replacement", "Right knee osteoarthritis, pain walking for two years.", "TX", "en",
     "female", 1955),
    (("I48.91",), "Catheter ablation", "Atrial fibrillation despite two medicines.", "NY", "en", "male", 1959),
    (("M54.16",), "Lumbar fusion", "Sciatica down the left leg for a year, a herniated disc at L4-L5.", "WA", "en",
     "female", 1979),
]


def setup(home: str) -> None:
    os.environ["KONSIL_HOME"] = home
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "konsil.settings")
    os.environ.pop("DATABASE_URL", None)  # the embedded default
    os.environ["KONSIL_EMAIL_BACKEND"] = "django.core.mail.backends.dummy.EmailBackend"
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def seed() -> float:
    from konsil.demo import seed_demo

    started = time.perf_counter()
    seed_demo()
    return time.perf_counter() - started


def draft(n: int):
    """A new patient (and their user) with one complete draft case, ready to submit."""
    from django.utils import timezone

    from konsil.accounts.models import Membership, Organization, User
    from konsil.accounts.roles import Role
    from konsil.cases.models import Case, CaseDiagnosis, CaseQuestion, Consent, Patient

    codes, treatment, summary, state, language, sex, year = CASES[n % len(CASES)]
    network = Organization.objects.get(slug="konsil-network")
    email = f"bench-{n}-{time.time_ns()}@bench.invalid"
    user = User.objects.create(email=email, username=email, first_name="Bench", last_name=f"Patient {n}")
    Membership.objects.create(user=user, organization=network, role=Role.PATIENT)
    patient = Patient.objects.create(network=network, user=user, given_name="Bench", family_name=f"Patient {n}",
                                     birth_date=dt.date(year, 5, 1), sex=sex, state=state, country="US",
                                     language=language)
    case = Case.objects.create(network=network, patient=patient, requester=user, proposed_treatment=treatment,
                               clinical_summary=summary)
    CaseQuestion.objects.create(case=case, position=0, text="Is this the right treatment for me?")
    for i, code in enumerate(codes):
        CaseDiagnosis.objects.create(case=case, position=i, code=code)
    Consent.objects.create(case=case, scope=["obtain_records", "share_with_reviewers", "share_report"],
                           signer_name=f"Bench Patient {n}", signed_at=timezone.now())
    return user, case


def submit(user, case) -> float:
    from konsil.cases.services import transition

    started = time.perf_counter()
    transition(actor=user, case=case, action="submit")
    return time.perf_counter() - started


def wait_for_outcome(case, timeout: float):
    from konsil.matching.models import RoutingOutcome

    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        row = RoutingOutcome.objects.filter(case=case).select_related("case").first()
        if row is not None:
            return row
        time.sleep(0.02)
    return None


def triage_baseline() -> float:
    from konsil.cases.models import Case
    from konsil.triage.engine import engine

    case = Case.objects.filter(reference__startswith="K-DEMO").select_related("patient").first()
    engine().propose(case)  # warm
    started = time.perf_counter()
    engine().propose(case)
    return time.perf_counter() - started


def pct(values, q):
    values = sorted(values)
    if not values:
        return float("nan")
    k = (len(values) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (k - lo)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=20)
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for each case")
    parser.add_argument("--no-write", action="store_true", help="print only; leave results-routing.md alone")
    args = parser.parse_args(argv)

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # stop the worker too (the finally below)
    home = tempfile.mkdtemp(prefix="konsil-bench-routing-")
    setup(home)
    seeded = seed()
    env = {**os.environ, "KONSIL_HOME": home, "PYTHONUNBUFFERED": "1"}
    worker = subprocess.Popen([sys.executable, "-m", "django", "db_worker"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(3)  # the worker's start (imports, its small startup delay) is not a case's latency
        from konsil.cases.models import Offer

        submits, to_offer, wall, outcomes, reasons = [], [], [], {"offered": 0, "coordinators": 0, "none": 0}, []
        for n in range(args.cases):
            user, case = draft(n)
            started = time.perf_counter()
            submits.append(submit(user, case))
            row = wait_for_outcome(case, args.timeout)
            if row is None:
                outcomes["none"] += 1
                continue
            wall.append(time.perf_counter() - started)
            outcomes[row.outcome] += 1
            if row.outcome == "offered":
                offer = Offer.objects.filter(case=case).order_by("created_at").first()
                case.refresh_from_db()
                to_offer.append((offer.created_at - case.submitted_at).total_seconds())
            else:
                case.refresh_from_db()
                why = " ".join(row.reasons[:2])
                reasons.append(f"{case.reference} ({case.specialty_id or 'not triaged'}, "
                               f"{case.patient.state}): {why}")
        triage_s = triage_baseline()
    finally:
        worker.terminate()
        try:
            worker.wait(timeout=10)
        except subprocess.TimeoutExpired:
            worker.kill()

    med = statistics.median(to_offer) if to_offer else float("nan")
    lines = [
        "# Auto-routing benchmark",
        "",
        f"{dt.date.today().isoformat()}, CPython {platform.python_version()}, {os.cpu_count()} CPUs, "
        f"{platform.machine()}; `make bench-routing` (bench/routing.py).",
        "",
        "| measure | median | p90 | max | target | met |",
        "|---|---|---|---|---|---|",
        f"| submit to offered (Case.submitted_at to Offer.created_at), {len(to_offer)} cases | {med:.2f} s | "
        f"{pct(to_offer, 0.9):.2f} s | {max(to_offer, default=float('nan')):.2f} s | median < "
        f"{TARGET_MEDIAN_S:g} s | {'yes' if to_offer and med < TARGET_MEDIAN_S else 'no'} |",
        f"| wall time from the submit call to the outcome seen by the client | {statistics.median(wall):.2f} s | "
        f"{pct(wall, 0.9):.2f} s | {max(wall):.2f} s | (information) | - |" if wall else "| wall | - | - | - | - | - |",
        f"| baseline: a bare submit (the transition call) | {statistics.median(submits):.3f} s | "
        f"{pct(submits, 0.9):.3f} s | {max(submits):.3f} s | (same run) | - |",
        f"| baseline: one triage proposal in-process | {triage_s:.3f} s | - | - | (same run) | - |",
        "",
        f"Outcomes: {outcomes['offered']} offered automatically, {outcomes['coordinators']} given to the "
        f"coordinators with reasons, {outcomes['none']} without an outcome within {args.timeout:g} s. "
        f"Demo data seeded in {seeded:.1f} s; SQLite in a temporary KONSIL_HOME; worker: `python -m django "
        "db_worker` (default 1 s poll interval when idle), cases submitted one after the other.",
    ]
    if reasons:
        lines += ["", "Given to the coordinators:", *[f"- {r}" for r in reasons]]
    text = "\n".join(lines) + "\n"
    print(text)
    if not args.no_write:
        RESULTS.write_text(text, encoding="utf-8")
    return 0 if to_offer and med < TARGET_MEDIAN_S else 1


if __name__ == "__main__":
    sys.exit(main())
