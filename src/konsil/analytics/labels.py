"""Words for the figures' keys (stages, verdicts), in the reader's language: the page and the quarterly PDF."""

from __future__ import annotations

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy

STAGE_LABELS = {"submitted": _lazy("submitted"), "triaged": _lazy("triaged"), "offered": _lazy("offered"),
                "accepted": _lazy("accepted"), "delivered": _lazy("delivered")}


def verdict_labels() -> dict:
    from konsil.opinions.models import DiagnosisVerdict, TreatmentVerdict

    return {"diagnosis": dict(DiagnosisVerdict.choices),
            "treatment": {**dict(TreatmentVerdict.choices),
                          "changed": _("Treatment changed (modified, an alternative, or advised against)")}}
