"""Shape a stored proposal for display (names, labels, summary sections) in the reader's language."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from konsil.cases.choices import Urgency
from konsil.core.context import reader_language
from konsil.matching.models import Specialty

from . import reasons

SUMMARY_SECTIONS = (("history", _("Key history")), ("problems", _("Active problems")),
                    ("medications", _("Medications")), ("results", _("Recent results")))


def present(proposal):
    """Add display attributes to `proposal` (None passes through)."""
    if proposal is None:
        return None
    codes = [r.get("code") for r in proposal.ranked] + list(proposal.panel_roles)
    names = dict(Specialty.objects.filter(pk__in=codes).values_list("pk", "name"))
    proposal.urgency_label = dict(Urgency.choices).get(proposal.urgency, proposal.urgency)
    ranked = [(names.get(r.get("code"), r.get("code")), round(100 * float(r.get("probability", 0))))
              for r in proposal.ranked]
    proposal.ranked_named = shown_ranking(ranked)
    proposal.ranked_hidden = len(ranked) - len(proposal.ranked_named)
    proposal.panel_names = [names.get(code, code) for code in proposal.panel_roles]
    proposal.summary_sections = [(label, proposal.summary.get(key)) for key, label in SUMMARY_SECTIONS
                                 if proposal.summary.get(key)]
    proposal.reason_lines = reasons.render(proposal)  # worded in the reader's language (the active one)
    proposal.clarification_view = clarification_for(proposal.case)
    proposal.conditions = sorted({item.get("condition") for item in proposal.checklist if item.get("condition")})
    return proposal


RANKING_SHOWN = 5  # at most this many specialties in the ranking, each at 1% or more (the first always)


def shown_ranking(ranked: list[tuple[str, int]]) -> list[tuple[str, int]]:
    """The head of the ranking worth reading: the first, then those rounding to 1% or more, at most five."""
    return ranked[:1] + [item for item in ranked[1:RANKING_SHOWN] if item[1] >= 1]


def clarification_for(case) -> dict | None:
    """The latest clarifying questions of `case` and their answers, worded in the reader's language."""
    from . import clarify

    clarification = case.clarifications.order_by("-created_at").first()
    if clarification is None:
        return None
    language = reader_language()
    return clarify.view(clarification, language if language in clarify.LANGUAGES else "en")
