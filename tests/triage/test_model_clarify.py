"""Re-triage with the patient's answers: propose(case, extra_text=...) and engine.propose (interface for h2)."""

from __future__ import annotations

import pytest

from konsil.triage import engine
from konsil.triage.ml import ModelTriage, clarification_text

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _model_engine(settings):
    settings.KONSIL_TRIAGE_ENGINE = "konsil.triage.ml.ModelTriage"


def _vague(case):
    case.clinical_summary = "I have been feeling weak and tired for months and I don't know why."
    case.save()
    case.diagnoses.all().delete()
    case.questions.all().delete()
    return case


def test_propose_with_extra_text_re_triages(draft_case):
    case = _vague(draft_case)
    before = ModelTriage().propose(case)
    after = ModelTriage().propose(case, extra_text="The doctor said my thyroid is underactive.")
    assert before.abstain_reason == "generalist_first" and before.specialty == "internal_medicine"
    assert after.specialty == "endocrinology"
    assert after.register == "lay" and after.language == "en"


def test_engine_propose_passes_answers_only_to_engines_that_take_them(draft_case, settings):
    case = _vague(draft_case)
    assert engine.propose(case, extra_text="The doctor said my thyroid is underactive.").specialty == "endocrinology"
    settings.KONSIL_TRIAGE_ENGINE = "konsil.triage.rules.RuleBasedTriage"
    engine._engine.cache_clear()
    assert engine.propose(case, extra_text="anything") is not None  # the rule engine reads the case only


def test_clarification_text_is_empty_without_stored_answers(draft_case):
    assert clarification_text(draft_case) == ""


def test_clarification_text_reads_answer_rows():
    class Row:
        def __init__(self, answer):
            self.answer = answer

    class Manager:
        def all(self):
            return [Row("It is my eyes."), Row("  "), Row("Since March.")]

    class Case:
        clarification_answers = Manager()

    assert clarification_text(Case()) == "It is my eyes.\nSince March."


def test_stored_clarification_answers_are_read_when_no_text_is_passed(draft_case):
    models = pytest.importorskip("konsil.triage.models")
    if not hasattr(models, "Clarification"):
        pytest.skip("no Clarification model")
    from django.utils import timezone

    case = _vague(draft_case)
    models.Clarification.objects.create(case=case, note="Not answered yet.")  # unanswered: ignored
    models.Clarification.objects.create(case=case, note="The doctor said my thyroid is underactive.",
                                        answered_at=timezone.now())
    assert clarification_text(case) == "The doctor said my thyroid is underactive."
    assert ModelTriage().propose(case).specialty == "endocrinology"
