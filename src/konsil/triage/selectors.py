"""Reads about triage: how its recent proposals fared against the coordinators' decisions."""

from __future__ import annotations

from dataclasses import dataclass

from konsil.accounts.models import organizations_of
from konsil.accounts.roles import Role
from konsil.core.prepared import ID, Prepared

from .models import TriageDecision


@dataclass
class Accuracy:
    decisions: int
    top1: float | None  # share where the proposed specialty was chosen
    top3: float | None  # share where the chosen specialty was among the first three proposed
    overrides: int


LAST_DECISIONS = 100  # the decisions the queue's triage accuracy looks back on


def _decisions_query(user):
    # three plain columns: the proposals' encrypted fields (summary, reasons, red flags...) are not read
    networks = organizations_of(user, Role.COORDINATOR).values("pk")
    return (TriageDecision.objects.filter(case__network__in=networks, proposal__isnull=False).order_by("-created_at")
            .values_list("chosen_specialty_id", "proposal__specialty_id", "proposal__ranked")[:LAST_DECISIONS])


_DECISIONS = Prepared(TriageDecision, _decisions_query, user=ID)  # compiled once: every queue load reads it


def recent_accuracy(user) -> Accuracy:
    """Triage against the last `LAST_DECISIONS` decisions in the coordinator's networks."""
    decisions = _DECISIONS(user=user.pk)
    if not decisions:
        return Accuracy(0, None, None, 0)
    top1 = sum(proposed == chosen for chosen, proposed, _ranked in decisions)
    top3 = sum(chosen in [r.get("code") for r in (ranked or [])[:3] if isinstance(r, dict)]
               for chosen, _proposed, ranked in decisions)
    n = len(decisions)
    return Accuracy(n, top1 / n, top3 / n, n - top1)
