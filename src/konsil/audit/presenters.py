"""The patient's access log in words: events grouped by case, day and person, one line per kind of access.

"Dr. Elena Cardoso, cardiologist, viewed 300 images of your CT" is one line, not 300. Grouping happens in the
database (per day, person, action and object) and then per case in Python, so a page costs a few queries whatever
the number of image frames read.
"""

from __future__ import annotations

import datetime as dt
from collections import OrderedDict, defaultdict
from dataclasses import dataclass, field

from django.db.models import Count, Max, Min
from django.db.models.functions import TruncDate
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from .models import Outcome

MODALITIES = {
    "CT": gettext_lazy("CT scan"), "MR": gettext_lazy("MRI"), "PT": gettext_lazy("PET scan"),
    "US": gettext_lazy("ultrasound"), "CR": gettext_lazy("X-ray"), "DX": gettext_lazy("X-ray"),
    "MG": gettext_lazy("mammogram"), "NM": gettext_lazy("nuclear medicine scan"), "XA": gettext_lazy("angiogram"),
    "SM": gettext_lazy("pathology slide"),
}


# The case's moves, said as what happened (the lifecycle labels are imperatives for buttons).
DONE = {
    "case.submit": gettext_lazy("sent your request"),
    "case.triage": gettext_lazy("chose the specialty of your case"),
    "case.retriage": gettext_lazy("changed the specialty of your case"),
    "case.offer": gettext_lazy("offered your case to a specialist"),
    "case.accept": gettext_lazy("accepted your case"),
    "case.decline": gettext_lazy("declined your case"),
    "case.expire_offer": gettext_lazy("did not answer the offer in time"),
    "case.retract_offer": gettext_lazy("withdrew the offer to a specialist"),
    "case.start_review": gettext_lazy("started reviewing your case"),
    "case.request_info": gettext_lazy("asked you for more information"),
    "case.provide_info": gettext_lazy("answered the specialist's questions"),
    "case.complete_draft": gettext_lazy("finished the draft opinion"),
    "case.revise_draft": gettext_lazy("revised the draft opinion"),
    "case.sign": gettext_lazy("signed the opinion"),
    "case.amend": gettext_lazy("amended the opinion"),
    "case.deliver": gettext_lazy("sent you the report"),
    "case.close": gettext_lazy("closed the case"),
    "case.cancel": gettext_lazy("cancelled the case"),
    "case.withdraw": gettext_lazy("withdrew the request"),
    "case.create": gettext_lazy("created the case"),
    "case.update": gettext_lazy("updated the case"),
    "case.escalate": gettext_lazy("passed your case to the care coordinators"),
    "case.break_glass": gettext_lazy("opened your case in an emergency, giving a reason"),
    "case.code_suggest": gettext_lazy("suggested diagnosis codes for your case"),
    "case.code_suggestions": gettext_lazy("suggested diagnosis codes for your case"),
    "case.code_accept": gettext_lazy("confirmed a diagnosis code"),
    "case.code_reject": gettext_lazy("set aside a suggested diagnosis code"),
    "record.process": gettext_lazy("read your uploaded records to prepare them"),
    "records.request": gettext_lazy("asked for your records"),
    "records.remind": gettext_lazy("sent a reminder about your records"),
    "records.received": gettext_lazy("received your records"),
    "triage.propose": gettext_lazy("proposed a specialty for your case"),
    "triage.escalate": gettext_lazy("asked a care coordinator to check your case"),
    "triage.questions": gettext_lazy("prepared questions about your case"),
    "triage.answers": gettext_lazy("recorded your answers"),
    "triage.read": gettext_lazy("read the triage of your case"),
    "offer.open": gettext_lazy("offered your case to a specialist"),
    "caregiver.authorize": gettext_lazy("authorized a caregiver"),
    "consent.sign": gettext_lazy("signed the authorization"),
    "patient.create": gettext_lazy("created your patient record"),
    "patient.update": gettext_lazy("updated your patient record"),
    "message.create": gettext_lazy("wrote a message"),
    "message.list": gettext_lazy("read the messages"),
    "opinion.save_draft": gettext_lazy("worked on the opinion"),
    "opinion.sign": gettext_lazy("signed the opinion"),
    "opinion.read": gettext_lazy("read the opinion"),
    "report.share": gettext_lazy("shared the report with the treating physician"),
    "attachment.list": gettext_lazy("saw the list of your documents"),
}
# Events that say the same thing as another one: shown as one line.
ALIASES = {"offer.open": "case.offer", "case.code_suggestions": "case.code_suggest", "opinion.sign": "case.sign",
           "case.code_confirm": "case.code_accept",
           "report.download": "report.pdf", "upload.create": "attachment.create"}
SYSTEM_ACTORS = {"system", "records", "triage", "sla", "offers", "worker", "cli", "routing", "matching", "demo"}
# Work Konsil does on its own, whoever's edit set it off (the trail keeps that person as the actor).
AUTOMATIC_ACTIONS = {"case.code_suggest"}
SHARE_ACTOR = "share:"  # a report share's recipient (opinions.services._share_actor), no account of their own


def _count_text(action: str, n: int, what: str) -> str:
    """What the person did, in words, for `n` events of `action` (`what` names the images' study)."""
    if action == "imaging.frame":
        return ngettext("viewed %(n)d image of your %(what)s", "viewed %(n)d images of your %(what)s", n) % {
            "n": n, "what": what}
    if action == "imaging.thumbnail":
        return _("looked at the previews of your %(what)s") % {"what": what}
    if action == "record.preview":
        return ngettext("viewed %(n)d page of your documents", "viewed %(n)d pages of your documents", n) % {"n": n}
    if action == "attachment.download":
        return ngettext("downloaded %(n)d of your documents", "downloaded %(n)d of your documents", n) % {"n": n}
    if action in ("attachment.create", "upload.create"):
        return ngettext("uploaded %(n)d document", "uploaded %(n)d documents", n) % {"n": n}
    if action == "case.read":
        return ngettext("opened your case", "opened your case %(n)d times", n) % {"n": n}
    if action in ("case.list", "case.list_status"):
        return _("saw your case in a list")
    if action == "report.read":
        return _("opened the report")
    if action in ("report.pdf", "report.download"):
        return _("downloaded the report")
    if action == "report.read_shared":
        return _("opened the report shared with the treating physician")
    times = f" (×{n})" if n > 1 else ""
    if action in DONE:
        return str(DONE[action])  # a move or a piece of work: once is the news
    return _("worked with your data") + times


@dataclass
class Line:
    who: str
    role: str
    text: str
    first: dt.datetime
    last: dt.datetime
    count: int
    outcome: str
    icon: str
    is_self: bool = False

    @property
    def sentence(self) -> str:
        if self.role:
            return _("%(who)s, %(role)s, %(what)s") % {"who": self.who, "role": self.role, "what": self.text}
        return _("%(who)s %(what)s") % {"who": self.who, "what": self.text}

    @property
    def denied(self) -> bool:
        return self.outcome != Outcome.SUCCESS


@dataclass
class Day:
    date: dt.date
    lines: list[Line] = field(default_factory=list)


@dataclass
class CaseGroup:
    case_id: str
    title: str
    days: list[Day] = field(default_factory=list)


ICONS = {"imaging": "image", "record": "file-text", "attachment": "file-text", "upload": "upload",
         "report": "file-text", "message": "message-square", "case": "eye", "opinion": "pen-line"}


def _case_of(rows) -> dict[tuple[str, str], str]:
    """(object_type, object_id) -> case id for the objects the events name."""
    from konsil.cases.models import Attachment
    from konsil.records.models import Instance, Series, Study

    wanted: dict[str, set[str]] = defaultdict(set)
    for row in rows:
        wanted[row["object_type"]].add(row["object_id"])
    out: dict[tuple[str, str], str] = {}
    for oid in wanted.get("cases.case", ()):
        out[("cases.case", oid)] = oid

    def add(otype, qs, path):
        ids = [i for i in wanted.get(otype, ()) if i]
        if ids:
            for pk, case_id in qs.filter(pk__in=ids).values_list("pk", path):
                out[(otype, str(pk))] = str(case_id)

    from django.apps import apps

    for otype in wanted:
        if otype in ("cases.case", "cases.attachment", "records.attachment", "records.instance", "records.series",
                     "records.study") or "." not in otype:
            continue
        try:
            model = apps.get_model(otype)
        except (LookupError, ValueError):
            continue
        names = {f.name for f in model._meta.get_fields()}
        if "case" in names:
            add(otype, model.objects, "case_id")
    add("cases.attachment", Attachment.objects, "case_id")
    add("records.attachment", Attachment.objects, "case_id")
    add("records.instance", Instance.objects, "series__study__case_id")
    add("records.series", Series.objects, "study__case_id")
    add("records.study", Study.objects, "case_id")
    return out


def _modality_of(rows) -> dict[tuple[str, str], str]:
    """(object_type, object_id) -> modality code for image events."""
    from konsil.records.models import Instance, Series

    out = {}
    inst = [r["object_id"] for r in rows if r["object_type"] == "records.instance" and r["object_id"]]
    ser = [r["object_id"] for r in rows if r["object_type"] == "records.series" and r["object_id"]]
    if inst:
        for pk, mod in Instance.objects.filter(pk__in=inst).values_list("pk", "series__modality"):
            out[("records.instance", str(pk))] = mod or ""
    if ser:
        for pk, mod in Series.objects.filter(pk__in=ser).values_list("pk", "modality"):
            out[("records.series", str(pk))] = mod or ""
    return out


def _people(actor_ids) -> dict[str, tuple[str, str]]:
    """actor id -> (name, what they are: 'cardiologist' style specialty or a role)."""
    from konsil.accounts.models import User

    people = {}
    users = User.objects.filter(pk__in=[a for a in actor_ids if a]).prefetch_related("specialist__specialties")
    for user in users:
        name = user.get_full_name() or user.email
        spec = getattr(user, "specialist", None) if hasattr(user, "specialist") else None
        role = ""
        if spec is not None:
            name = _("Dr. %(name)s") % {"name": name}
            names = [_(s.name) for s in spec.specialties.all()]
            role = _("specialist in %(specialty)s") % {"specialty": names[0]} if names else ""
        people[str(user.pk)] = (name, role)
    return people


def grouped_access_log(events, user, *, cases: dict[str, str] | None = None) -> list[CaseGroup]:
    """Group the patient's events (a queryset of AuditEvent) by case, local day and person, in words."""
    from konsil.cases.views import RELATION_LABELS

    tz = timezone.get_current_timezone()
    rows = list(
        events.order_by().annotate(day=TruncDate("occurred_at", tzinfo=tz))
        .values("day", "actor_id", "actor_label", "role", "action", "outcome", "object_type", "object_id")
        .annotate(n=Count("seq"), first=Min("occurred_at"), last=Max("occurred_at"))
    )
    case_of = _case_of(rows)
    modality = _modality_of(rows)
    people = _people({str(r["actor_id"]) for r in rows if r["actor_id"]})
    if cases is None:
        from konsil.cases.models import Case

        ids = set(case_of.values())
        cases = {str(pk): ref for pk, ref in Case.objects.filter(pk__in=ids).values_list("pk", "reference")}

    # (case, day, actor, action, outcome, modality) -> totals
    buckets: dict[tuple, dict] = OrderedDict()
    for r in rows:
        key_obj = (r["object_type"], r["object_id"])
        case_id = case_of.get(key_obj, "")
        mod = modality.get(key_obj, "") if r["action"].startswith("imaging.") else ""
        action = ALIASES.get(r["action"], r["action"])
        key = (case_id, r["day"], str(r["actor_id"] or r["actor_label"]), action, r["outcome"], mod)
        b = buckets.setdefault(key, {"n": 0, "first": r["first"], "last": r["last"], "row": r})
        if r["role"] and not b["row"]["role"]:
            b["row"] = r
        b["n"] += r["n"]
        b["first"] = min(b["first"], r["first"])
        b["last"] = max(b["last"], r["last"])

    groups: dict[str, CaseGroup] = {}
    days: dict[tuple[str, dt.date], Day] = {}
    for (case_id, day, _actor, action, outcome, mod), b in buckets.items():
        r = b["row"]
        if r["actor_id"] and str(r["actor_id"]) == str(user.pk) and action in (
                "case.list", "case.list_status", "attachment.list", "message.list"):
            continue
        group = groups.get(case_id)
        if group is None:
            title = (_("Case %(ref)s") % {"ref": cases[case_id]}) if case_id in cases else _("Your account")
            group = groups[case_id] = CaseGroup(case_id, title)
        day_obj = days.get((case_id, day))
        if day_obj is None:
            day_obj = days[(case_id, day)] = Day(day)
            group.days.append(day_obj)
        actor_id = str(r["actor_id"]) if r["actor_id"] else ""
        label = r["actor_label"] or ""
        automatic = action in AUTOMATIC_ACTIONS or (
            not actor_id and (not label or label.lower() in SYSTEM_ACTORS or "@" not in label))
        is_self = bool(actor_id) and actor_id == str(user.pk) and not automatic
        if is_self and action in ("case.list", "case.list_status", "attachment.list", "message.list"):
            continue  # your own look at a list of your cases is not news
        if automatic:
            name, what = _("Konsil (automatic)"), ""
        elif not actor_id and label.startswith(SHARE_ACTOR):
            name, what = label[len(SHARE_ACTOR):], _("through the link you shared")
        else:
            name, what = people.get(actor_id, (label, ""))
        if not what and r["role"] and not automatic:  # "Konsil (automatic)" says it; its role "system" adds nothing
            what = str(RELATION_LABELS.get(r["role"], r["role"])).lower()
        if is_self:
            name, what = _("You"), ""
        study = str(MODALITIES.get(mod, _("images")))
        text = _count_text(action, b["n"], study)
        if outcome != Outcome.SUCCESS:
            text = _("tried to access your data and was refused (%(what)s)") % {"what": text}
        icon = "triangle-alert" if outcome != Outcome.SUCCESS else ICONS.get(action.split(".")[0], "eye")
        day_obj.lines.append(Line(name, what, text, b["first"], b["last"], b["n"], outcome, icon, is_self))

    ordered = sorted(groups.values(), key=lambda g: max((d.date for d in g.days), default=dt.date.min), reverse=True)
    for group in ordered:
        group.days.sort(key=lambda d: d.date, reverse=True)
        for day in group.days:
            day.lines.sort(key=lambda line: line.last, reverse=True)
    return ordered
