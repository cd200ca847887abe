"""The `matching` interface: rank eligible specialists for a case, best first, each with its reasons.

An engine is a class with `name`, `version` and `rank(case, candidates) -> list[Ranked]`, and optionally
`candidates(case)` (the rows it evaluates; selectors.candidates otherwise); settings name it in
KONSIL_MATCHING_ENGINE. ScoredRanking (the default) applies scoring.py's hard constraints and weighted soft factors.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

from django.conf import settings
from django.utils import timezone
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _

from . import licensure, scoring


@dataclass
class Ranked:
    specialist: object
    score: float
    reasons: list[str] = field(default_factory=list)
    factors: list[dict] = field(default_factory=list)
    fallback_from: str | None = None  # the case's specialty, when nobody there was eligible (scoring.may_take)


class FilteredRanking:
    """Foundation ranking: language match first, then most free capacity."""

    name = "filtered"
    version = "1"

    def rank(self, case, candidates) -> list[Ranked]:
        language = case.identity.language
        ranked = []
        for s in candidates:
            active = getattr(s, "active_cases", 0) or 0
            free = max(0, s.capacity - active)
            speaks = language in (s.languages or [])
            score = (1.0 if speaks else 0.0) + free / max(1, s.capacity) * 0.5
            state = case.identity.state
            reasons = [_("licensed in %(state)s") % {"state": state}] if state else []
            reasons.append(_("speaks the patient's language") if speaks else _("needs an interpreter"))
            reasons.append(_("%(free)d of %(cap)d case slots free") % {"free": free, "cap": s.capacity})
            ranked.append(Ranked(s, round(score, 3), reasons))
        return sorted(ranked, key=lambda r: (-r.score, str(r.specialist)))


def licensure_source(case_rec: dict, table) -> str | None:
    """The source and "as of" date of the licensure row that decided, for the explanation."""
    rule = licensure.rule_applied(table, case_rec["state"], case_rec["country"])
    if rule is None:
        return None
    direct = {licensure.ALLOWED: _("opinions from elsewhere allowed directly to the patient"),
              licensure.CONSULT_ONLY: _("opinions from elsewhere only in consultation with a local physician"),
              licensure.NOT_ALLOWED: _("a local licence required")}.get(rule.direct_to_patient, rule.direct_to_patient)
    return _("licensure rule for %(code)s (%(name)s): %(direct)s; source: %(source)s; as of %(as_of)s") % {
        "code": rule.code, "name": rule.name, "direct": direct, "source": rule.source,
        "as_of": rule.as_of.isoformat()}


def explain(case_rec: dict, spec: dict, weights, table) -> scoring.Evaluation:
    """scoring.evaluate, plus the licensure row's source when the table (not a licence held) decided."""
    ev = scoring.evaluate(case_rec, spec, weights, table=table)
    if scoring.decide_licensure(case_rec, spec, table).code != licensure.LICENSED:
        source = licensure_source(case_rec, table)
        if source:
            ev.reasons.append(source)
    return ev


class ScoredRanking:
    """Hard constraints filter (specialty, licensure table, language, capacity, conflicts, declines, delivery
    mode); the network's weighted soft factors order and explain."""

    name = "scored"
    version = "1"

    def candidates(self, case):
        from .selectors import pool

        return pool(case)

    def rank(self, case, candidates) -> list[Ranked]:
        """The eligible specialists of the case's specialty; when there is none, those of its parent specialty,
        each explanation saying so."""
        from . import inputs
        from .selectors import pool

        if not case.specialty_id:
            return []
        table = licensure.load_table()
        weights = inputs.weights_for(case.network)
        record = inputs.case_record(case)
        ranked = self._rank(record, candidates, weights, table)
        parent = scoring.fallback_specialty(case.specialty_id)
        if ranked or not parent:
            return ranked
        record = {**record, "specialty": parent, "fallback_from": case.specialty_id}
        return self._rank(record, list(pool(case, specialty=parent)), weights, table)

    @staticmethod
    def _rank(record: dict, candidates, weights, table) -> list[Ranked]:
        from . import inputs

        today = timezone.localdate()
        ranked = []
        for s in candidates:
            ev = explain(record, inputs.specialist_record(s, today=today), weights, table)
            if ev.feasible:
                ranked.append(Ranked(s, round(ev.score, 4), ev.reasons, ev.factors, record.get("fallback_from")))
        return sorted(ranked, key=lambda r: (-r.score, str(r.specialist), str(r.specialist.pk)))


@lru_cache(maxsize=4)
def _engine(path: str):
    return import_string(path)()


def engine():
    return _engine(settings.KONSIL_MATCHING_ENGINE)


def falls_back(case) -> bool:
    """Nobody of the case's specialty is eligible, so its parent specialty's specialists may take it."""
    ranked = rank(case)
    return bool(ranked) and bool(getattr(ranked[0], "fallback_from", None))


def rank(case) -> list[Ranked]:
    from .selectors import candidates

    eng = engine()
    rows = eng.candidates(case) if hasattr(eng, "candidates") else candidates(case)
    return eng.rank(case, list(rows))
