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
    # three plain columns: the proposals' encrypted fields (summary, reasons, red flags...) are not read
    decisions = list(
        TriageDecision.objects.filter(case__network__in=networks, proposal__isnull=False)
        .order_by("-created_at").values_list("chosen_specialty_id", "proposal__specialty_id", "proposal__ranked")[:last]
    )
    if not decisions:
        return Accuracy(0, None, None, 0)
    top1 = sum(proposed == chosen for chosen, proposed, _ranked in decisions)
    top3 = sum(chosen in [r.get("code") for r in (ranked or [])[:3] if isinstance(r, dict)]
               for chosen, _proposed, ranked in decisions)
    n = len(decisions)
    return Accuracy(n, top1 / n, top3 / n, n - top1)
