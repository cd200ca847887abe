"""`konsil seed --history N`: realistic, idempotent for a given N, and the CLI prints the page's figures."""

from __future__ import annotations

import io
import json
from types import SimpleNamespace

import pytest

from konsil.analytics.commands import cmd_seed_history, cmd_summary
from konsil.analytics.history import seed_history
from konsil.analytics.models import CaseFact
from konsil.cases.models import Case

from ..factories import make_specialist

pytestmark = pytest.mark.django_db


def test_history_is_idempotent_and_spread(network):
    make_specialist(network, specialty="medical_oncology", states=("CA", "NY", "TX"))
    make_specialist(network, specialty="cardiology", states=("CA", "FL"))
    assert seed_history(300, network=network) == 300
    assert seed_history(300, network=network) == 0
    assert Case.objects.filter(reference__startswith="H-").count() == 300
    assert seed_history(320, network=network) == 20
    facts = CaseFact.objects.all()
    assert facts.count() == 320
    assert facts.filter(state="CA").count() > facts.filter(state="WY").count()
    assert len(set(facts.values_list("channel", flat=True))) == 4
    rural = facts.filter(rucc__gte=4).count() / facts.exclude(rucc=None).count()
    assert 0.03 < rural < 0.35
    assert facts.exclude(diagnosis_verdict="").count() > 100
    assert facts.exclude(tat_total=None).count() > 100
    assert len(set(facts.values_list("month", flat=True))) >= 20


def test_cli_summary_prints_the_figures_and_refuses_bad_dates(network):
    seed_history(50, network=network)
    out, err = io.StringIO(), io.StringIO()
    args = SimpleNamespace(start="2000-01-01", end="2100-01-01", program=None, network=None, sponsor=None,
                           specialty=None, channel=None, state=None, no_refresh=False)
    assert cmd_summary(args, out=out, err=err) == 0
    body = json.loads(out.getvalue())
    assert body["volume"]["total"] == 50 and body["filters"]["from"] == "2000-01-01"
    args.end = "1999-01-01"
    assert cmd_summary(args, out=io.StringIO(), err=err) == 2
    assert "to:" in err.getvalue()
    assert cmd_seed_history(-1, out=io.StringIO(), err=io.StringIO()) == 2


def test_cli_parses_the_commands():
    from konsil.cli import build_parser

    args = build_parser().parse_args(["seed", "--history", "5"])
    assert args.history == 5 and not args.demo
    args = build_parser().parse_args(["analytics", "summary", "--from", "2026-01-01", "--to", "2026-03-31",
                                      "--program", "acme-care"])
    assert (args.start, args.end, args.program) == ("2026-01-01", "2026-03-31", "acme-care")
    assert build_parser().parse_args(["analytics", "refresh", "--full"]).full


def test_konsil_seed_history_through_main(network, capsys):
    from konsil.cli import cmd_seed

    assert cmd_seed(SimpleNamespace(demo=False, history=7)) == 0
    assert "7 past cases created" in capsys.readouterr().out
    assert cmd_seed(SimpleNamespace(demo=False, history=None)) == 2


def test_history_keeps_each_step_at_its_moment(network):
    """The timeline, offers, triage decisions and opinions are dated when they happened, not when the seed ran:
    the page's stage medians read hours, as the plan draws them, not the months since the case was submitted."""
    from django.utils import timezone

    from konsil.analytics.measures import Filters, Scope, summary
    from konsil.cases.models import StatusChange

    make_specialist(network, specialty="cardiology", states=("CA", "FL"))
    seed_history(120, network=network)
    now = timezone.now()
    case = Case.objects.filter(reference__startswith="H-", status="delivered").order_by("submitted_at").first()
    changes = list(StatusChange.objects.filter(case=case).order_by("created_at"))
    moments = [change.created_at for change in changes]
    assert [c.to_status for c in changes] == ["submitted", "triaged", "offered", "accepted", "in_review", "signed",
                                              "delivered"]  # every step the case page shows, in order
    assert case.created_at < case.submitted_at <= moments[0] and moments[-1] == case.delivered_at
    assert (now - moments[-1]).days > 30  # the oldest delivered case, not today
    assert case.offers.first().created_at < now - (now - case.submitted_at) / 2
    figures = summary(Scope(kind="network", name="n", networks=(network.pk,)), Filters())
    stages = {s["stage"]: s for s in figures["turnaround"]["stages"]}
    for name in ("submitted_triaged", "triaged_offered", "offered_accepted", "accepted_delivered"):
        assert stages[name]["n"] > 50, name
        assert 0 < stages[name]["median_hours"] < 200, (name, stages[name]["median_hours"])


def test_history_opinions_read_whole_and_verify(network):
    """A delivered history case's report has words, a confidence and a signature that verifies (it said "the
    content does not match what was signed")."""
    from konsil.opinions.models import Opinion
    from konsil.opinions.report import plain_summary
    from konsil.opinions.services import verify_signature

    make_specialist(network, specialty="cardiology", states=("CA", "FL"))
    seed_history(60, network=network)
    opinions = list(Opinion.objects.filter(case__reference__startswith="H-"))
    assert opinions and all(verify_signature(o) and o.verify_code and o.narrative and o.confidence
                            for o in opinions)
    referred = {o.pk: o.case.diagnoses.get().code for o in opinions}
    for opinion in opinions:
        if opinion.diagnosis_verdict == "changed":  # a different diagnosis, not the one referred
            assert opinion.revised_diagnosis and opinion.revised_diagnosis != referred[opinion.pk]
        lines = plain_summary(opinion, "a more precise diagnosis")
        assert lines and all(line.strip().rstrip(".:") for line in lines)


def test_history_prefers_a_specialist_licensed_where_the_patient_lives(network):
    ca = make_specialist(network, specialty="cardiology", states=("CA",))
    make_specialist(network, specialty="cardiology", states=("NY",))
    seed_history(150, network=network)
    assigned = Case.objects.filter(reference__startswith="H-", specialty_id="cardiology",
                                   assigned_specialist__isnull=False).select_related("patient")
    in_ca = [c for c in assigned if c.patient.state == "CA"]
    assert in_ca and all(c.assigned_specialist_id == ca.pk for c in in_ca)

