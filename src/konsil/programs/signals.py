"""Lifecycle hooks: eligibility at submission, the determination when a mandated review's opinion is delivered."""

from __future__ import annotations


def on_status_change(sender, instance, created, **kwargs) -> None:
    if not created:
        return
    if instance.action == "submit":
        from .eligibility import recheck_at_submission

        recheck_at_submission(instance.case)
    elif instance.action in ("deliver", "amend"):
        from .mandates import determine

        determine(instance.case)
