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


@lru_cache(maxsize=4)
def _engine(path: str):
    return import_string(path)()


def engine():
    return _engine(settings.KONSIL_TRIAGE_ENGINE)
