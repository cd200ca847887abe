"""The `triage` interface: an engine proposes, a coordinator decides.

An engine is a class with `name`, `version` and `propose(case) -> Proposal`; settings name it in
KONSIL_TRIAGE_ENGINE. The AI triage issue replaces the rule-based default.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

from django.conf import settings
from django.utils.module_loading import import_string


@dataclass
class Proposal:
    specialty: str | None  # catalog code
    ranked: list[dict] = field(default_factory=list)  # [{"code", "probability"}]
    urgency: str = "routine"
    red_flags: list[dict] = field(default_factory=list)  # [{"code", "label", "urgency", "evidence", "source"}]
    reasons: list[str] = field(default_factory=list)
    abstain: bool = False
    labels: list[dict] = field(default_factory=list)  # the model's classes: [{"label", "probability"}]
    subspecialty: str | None = None
    specialty_evidence: dict = field(default_factory=dict)  # panels.refine(): {"subspecialty", "evidence", "source"}
    multidisciplinary: bool = False
    panel_roles: list[str] = field(default_factory=list)
    checklist: list[dict] = field(default_factory=list)  # [{"item", "label", "present", "evidence"}]
    inconsistencies: list[dict] = field(default_factory=list)
    summary: dict = field(default_factory=dict)  # {"history"|"problems"|"medications"|"results": [{"text","ref"}]}
    # the patient's words (issue 17): which register and language the text is in, why the engine abstains
    # ("" | "low_confidence" | "generalist_first" | "no_text"), the top three specialties, the lay concepts
    # found (lay.lookup) and their body systems: what a clarifying question can be chosen from
    register: str = ""  # "notes" | "one_liner" | "lay"
    language: str = ""  # "en" | "es" | "ja"
    abstain_reason: str = ""
    candidates: list[dict] = field(default_factory=list)  # [{"code", "name", "probability"}], at most 3
    concepts: list[dict] = field(default_factory=list)  # [{"concept", "label", "specialty", "body_system", ...}]
    body_systems: list[str] = field(default_factory=list)


@lru_cache(maxsize=4)
def _engine(path: str):
    return import_string(path)()


def engine():
    return _engine(settings.KONSIL_TRIAGE_ENGINE)


def propose(case, extra_text: str = "") -> Proposal:
    """Run the configured engine on `case`, with the patient's answers to clarifying questions when given
    (engines without `extra_text` get the case alone)."""
    import inspect

    eng = engine()
    if extra_text and "extra_text" in inspect.signature(eng.propose).parameters:
        return eng.propose(case, extra_text=extra_text)
    return eng.propose(case)


def warm() -> None:
    """Load the configured engine and what its first proposal reads lazily (the model, the lexicons, the code
    indexes), so that the first case a worker triages is not slower than the next; an engine opts in with `warm()`."""
    eng = engine()
    if hasattr(eng, "warm"):
        eng.warm()
