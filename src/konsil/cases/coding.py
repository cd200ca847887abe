"""ICD-10-CM codes Konsil reads in the patient's words and records: suggestions a person confirms or rejects."""

from __future__ import annotations

import re

from django.db import transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext as _

from konsil.accounts.roles import Role
from konsil.audit.services import emit
from konsil.core import icd10
from konsil.core.errors import Conflict, PermissionDenied, ValidationFailed
from konsil.core.models import remember_related

from . import relations as rel
from .choices import Status
from .models import Case, CaseDiagnosis, CodeSuggestion

WORD_FIELDS = frozenset({"diagnosis_text", "proposed_treatment", "clinical_summary", "questions", "diagnoses"})
MAX_FROM_TEXT = 5
MAX_PER_RECORD = 3
CLOSED = frozenset({Status.CLOSED, Status.CANCELLED, Status.WITHDRAWN})
Decision = CodeSuggestion.Decision


def _patient_words(case: Case) -> str:
    questions = " ".join(q.text for q in case.questions.all())
    return " \n".join([case.diagnosis_text, case.proposed_treatment, case.clinical_summary, questions])


OTHER_WORDS = re.compile(r"\b(?:other|otr[oa]s?)\b|その他|ほかの", re.IGNORECASE)


NOT_SAID = ("negated", "family", "hypothetical")  # "no enlarged lymph nodes", "mother had ...", "risk of ..."


def by_proxy(case: Case) -> bool:
    """Whether someone other than the patient or a clinician wrote the case's words (a caregiver): their "my mother
    has breast cancer" may be the patient's own disease, so a relative's words do not take a code away."""
    from .choices import Channel

    patient_user = getattr(case.patient, "user_id", None) if case.patient_id else None
    return case.channel != Channel.CLINICIAN and case.requester_id != patient_user


def suggest(text: str, *, limit: int, relatives: bool = True) -> list[dict]:
    """icd10.suggest without the "Other ..." residual codes (E13 Other specified diabetes mellitus, I21.A Other
    type of myocardial infarction) unless the words themselves say "other": plain words never specify them; and
    without the codes whose words the text only denies, gives a relative or imagines ("No pleural effusion"),
    unless the rest of the text, without those mentions, says them of the patient. `relatives` false: a relative's
    words count as said (`by_proxy`)."""
    text = text or ""
    unsaid_kinds = NOT_SAID if relatives else tuple(k for k in NOT_SAID if k != "family")
    found = _found(text, limit)
    denied = {s["code"]: _unsaid(text, s["matched"], unsaid_kinds) for s in found}
    kept = [s for s in found if not denied[s["code"]]]
    unsaid = [span for spans in denied.values() for span in spans]
    if unsaid:
        # again without the mentions only denied, a relative's or imagined: "My mother had breast cancer" took
        # C50 away, though "the biopsy said invasive ductal carcinoma" says it of the patient
        chars = list(text)
        for start, end in unsaid:
            chars[start:end] = " " * (end - start)
        masked = "".join(chars)
        have = {s["code"] for s in kept}
        kept += [s for s in _found(masked, limit)
                 if s["code"] not in have and not _unsaid(masked, s["matched"], unsaid_kinds)]
    return _one_side(kept, text)[:limit]


def _found(text: str, limit: int) -> list[dict]:
    found = icd10.suggest(text, limit=limit + 10)
    if not OTHER_WORDS.search(text):
        found = [s for s in found if not s["title"].startswith("Other ")]
    return found


# The side a code's title names, and the words that name it in the patient's languages.
TITLE_SIDE = re.compile(r"\b(right|left|bilateral)\b", re.IGNORECASE)
SAID_SIDE = {"right": re.compile(r"\bright\b|\bderech[oa]s?\b|右", re.IGNORECASE),
             "left": re.compile(r"\bleft\b|\bizquierd[oa]s?\b|左", re.IGNORECASE),
             "bilateral": re.compile(r"\bboth\b|\bbilateral\b|\bambos\b|\bambas\b|両", re.IGNORECASE)}


def _one_side(found: list[dict], text: str) -> list[dict]:
    """Codes that differ only by side (M79.604 right leg, .605 left, .606 unspecified): the side the words name,
    or the unspecified one when they name none; never all three ("pain down my left leg" is not M79.604)."""
    said = {side for side, words in SAID_SIDE.items() if words.search(text or "")}
    sides = {s["code"]: (m.group(1).lower() if (m := TITLE_SIDE.search(s["title"])) else None) for s in found}
    family = {}  # the code without its last character -> the codes of that family found
    for s in found:
        family.setdefault(s["code"][:-1], []).append(s["code"])
    keep = []
    for s in found:
        kin = [c for c in family[s["code"][:-1]] if c != s["code"]]
        side = sides[s["code"]]
        if not kin or not any(sides[c] for c in [s["code"], *kin]):
            keep.append(s)  # no sided siblings: nothing to choose
        elif said & {sides[c] for c in [s["code"], *kin]}:
            if side in said:
                keep.append(s)  # the side the words name (both, when they name both)
        elif side is None:
            keep.append(s)  # the words name no side (or one no sibling has): the unspecified code
    return keep


def _unsaid(text: str, matched: str, kinds: tuple = NOT_SAID) -> list[tuple[int, int]]:
    """The mentions of the phrases a code was suggested for that the text never asserts (NegEx/ConText context of
    triage.knowledge: each mention denied, a relative's, imagined, or only suspected, ICD-10-CM IV.H: the uncertain
    are not coded); [] when each phrase is asserted somewhere (a phrase not found as written counts as said)."""
    from konsil.triage.knowledge import assertion, uncertain
    from konsil.triage.lay import mentions

    unsaid = []
    for phrase in (p.strip() for p in matched.split(",")):
        spans = mentions(text, phrase)
        if spans and all(assertion(text, start, end) in kinds or uncertain(text, start, end)
                         for start, end in spans):
            unsaid += spans
    return unsaid


def proposals(case: Case, *, records: bool = True) -> dict[str, tuple[str, str]]:
    """code -> (source, matched words): from the patient's words first, then from the records' text."""
    found = {s["code"]: ("text", s["matched"])
             for s in suggest(_patient_words(case), limit=MAX_FROM_TEXT, relatives=not by_proxy(case))}
    if records:
        from konsil.records.selectors import record_texts

        for text, _ref in record_texts(case):
            for s in suggest(text, limit=MAX_PER_RECORD):
                found.setdefault(s["code"], ("records", s["matched"]))
    return found


def refresh(*, actor, case: Case, records: bool = True) -> None:
    """Bring the case's open suggestions up to date with its text; decisions already taken are kept.
    Runs inside the caller's transaction (or its own)."""
    with transaction.atomic():
        found = proposals(case, records=records)
        given = {d.code for d in case.diagnoses.all()}
        existing = {s.code: s for s in case.code_suggestions.all()}
        stale = [s.pk for code, s in existing.items() if s.status == Decision.SUGGESTED and code not in found]
        if stale:
            CodeSuggestion.objects.filter(pk__in=stale).delete()
        new = [CodeSuggestion(case=case, code=code, source=source, matched=matched[:200])
               for code, (source, matched) in found.items() if code not in existing and code not in given]
        CodeSuggestion.objects.bulk_create(new)
        remember_related(case, "code_suggestions", [s for s in existing.values() if s.pk not in stale] + new)
        if new or stale:
            emit(actor=actor, action="case.code_suggest", obj=case, patient_id=case.patient_id,
                 detail={"added": len(new), "removed": len(stale)})


def may_decide(user, case: Case) -> bool:
    """Coordinators and the clinicians of the case (assigned specialist, referring clinician) confirm codes."""
    relations = rel.relations(user, case)
    if relations & {rel.COORDINATOR, rel.SPECIALIST}:
        return True
    return rel.REQUESTER in relations and user.has_role(Role.REFERRING_CLINICIAN)


def decide(*, actor, case: Case, code: str, decision: str) -> CodeSuggestion:
    """Confirm (the code becomes one of the case's diagnoses) or reject a suggested code."""
    if decision not in ("confirm", "reject"):
        raise ValidationFailed(_("Choose confirm or reject."), field="decision")
    code = icd10.normalize(str(code or ""))
    if not may_decide(actor, case):
        emit(actor=actor, action="case.code_decide", obj=case, patient_id=case.patient_id, outcome="denied")
        raise PermissionDenied(_("Only the care coordinators and the case's clinicians confirm codes."))
    if case.status in CLOSED:
        raise Conflict(_("This case is closed."), code="case_closed")
    with transaction.atomic():
        try:
            suggestion = case.code_suggestions.select_for_update().get(CodeSuggestion.matching(code))
        except CodeSuggestion.DoesNotExist:
            raise ValidationFailed(_("This code was not suggested for the case."), field="code") from None
        if suggestion.status != Decision.SUGGESTED:
            raise Conflict(_("This suggestion was already decided."), code="already_decided")
        suggestion.status = Decision.CONFIRMED if decision == "confirm" else Decision.REJECTED
        suggestion.decided_by, suggestion.decided_at = actor, timezone.now()
        suggestion.save(update_fields=["status", "decided_by", "decided_at", "updated_at"])
        confirmed = suggestion.status == Decision.CONFIRMED
        if confirmed and not case.diagnoses.filter(CaseDiagnosis.matching(code)).exists():
            position = (case.diagnoses.aggregate(n=Max("position"))["n"] or -1) + 1
            CaseDiagnosis.objects.create(case=case, code=code, position=position)
        emit(actor=actor, action=f"case.code_{decision}", obj=case, patient_id=case.patient_id,
             role=rel.primary_relation(rel.relations(actor, case)), detail={"source": suggestion.source})
    return suggestion
