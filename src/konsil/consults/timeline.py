"""The case timeline's consult steps (booked, moved, cancelled, cancelled late, no-show, held, notes) for those who
may see the case's consults. Minimum necessary: kinds, times and who acted; never phone numbers, e-mail addresses,
locations or the notes' text (those stay on the consult page)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from konsil.core import authz
from konsil.core.prepared import ID, Prepared

from .models import ConsultEvent, EventKind, Mode, Party

_EVENTS = Prepared(ConsultEvent, lambda case: ConsultEvent.objects.filter(case=case).only(
    "created_at", "kind", "role", "mode", "starts_at", "party", "opinion_changed", "consult_id").order_by(
    "created_at"), case=ID)


@dataclass
class Event:
    """A timeline row that is not a status change (consults, follow-ups): what the case page's timeline renders."""

    created_at: datetime
    label: str
    kind: str
    role: str = ""
    detail: str = ""
    when: datetime | None = None  # a time the row is about (a consult's start)
    url: str = ""
    is_event: bool = True


NO_SHOW = {Party.PATIENT: gettext_lazy("The patient's side did not come"),
           Party.SPECIALIST: gettext_lazy("The specialist could not come")}


def _detail(event) -> str:
    if event.kind == EventKind.NO_SHOW:
        return str(NO_SHOW.get(event.party, ""))
    if event.kind == EventKind.NOTE:
        return _("The opinion changes after this consult") if event.opinion_changed else ""
    if event.kind in (EventKind.BOOKED, EventKind.MOVED, EventKind.HELD):
        return str(Mode(event.mode).label) if event.mode in Mode.values else ""
    return ""


def entries(user, case) -> list[Event]:
    """The case's consult steps, oldest first, or nothing when the user may not see its consults."""
    if not authz.can("consult.view", user, case):
        return []
    rows = _EVENTS(case=case.pk)
    return [Event(created_at=e.created_at, label=str(EventKind(e.kind).label), kind=f"consult.{e.kind}",
                  role=e.role, detail=_detail(e),
                  when=e.starts_at if e.kind in (EventKind.BOOKED, EventKind.MOVED) else None,
                  url=reverse("consults:detail", kwargs={"pk": e.consult_id})) for e in rows]
