"""Reads about triage: how its recent proposals fared against the coordinators' decisions."""

from __future__ import annotations

from dataclasses import dataclass

from konsil.accounts.roles import Role

from .models import TriageDecision


@dataclass
class Accuracy:
    decisions: int
    top1: float | None  # share where the proposed specialty was chosen
    top3: float | None  # share where the chosen specialty was among the first three proposed
    overrides: int


def recent_accuracy(user, *, last: int = 100) -> Accuracy:
    """Triage against the last `last` decisions in the coordinator's networks."""
    networks = user.organizations_for(Role.COORDINATOR).values("pk")
    decisions = list(
        TriageDecision.objects.filter(case__network__in=networks, proposal__isnull=False)
        .select_related("proposal").order_by("-created_at")[:last]
    )
    if not decisions:
        return Accuracy(0, None, None, 0)
    top1 = sum(d.proposal.specialty_id == d.chosen_specialty_id for d in decisions)
    top3 = sum(d.chosen_specialty_id in [r.get("code") for r in d.proposal.ranked[:3]] for d in decisions)
    n = len(decisions)
    return Accuracy(n, top1 / n, top3 / n, n - top1)
