"""Extractive summary for the reviewer: key history, active problems, medications and recent results.

Nothing is generated: every item is a sentence or list line copied (trimmed) from one of the case's records, with
the record's ref. Sections are recognised from their headers (HISTORY OF PRESENT ILLNESS, ASSESSMENT, MEDICATIONS,
LABORATORY DATA ...; upper case anywhere, or any case at the start of a line); lines outside a known section are
kept only when their content says what they are (a dose: medication; a lab value or a study's finding: result).
"""

from __future__ import annotations

import re

CATEGORIES = ("history", "problems", "medications", "results")
LIMIT = 8
MAX_CHARS = 240
SKIP = "skip"

# header words -> category, first rule that matches wins (so "DIAGNOSTIC DATA" is a result, "SOCIAL HISTORY" skipped)
_HEADER_RULES = [
    ("medications", r"MEDICATION|MEDS\b|DRUGS\b|PRESCRIPTION"),
    (SKIP, r"ALLERG"),
    ("results", r"\bLABS?\b|LABORATOR|RESULT|DATA\b|STUDIES|STUDY\b|IMAGING|FINDINGS|PATHOLOGY|ECHO|ECG\b|EKG\b"
                r"|X-?RAYS?\b|RADIOLOG|INTERPRETATION|CONCLUSION|OBSERVATIONS|\bCT\b|\bMRI\b|BIOPSY"),
    ("problems", r"DIAGNOS|IMPRESSION|ASSESSMENT|PROBLEM|CONDITIONS\b"),
    (SKIP, r"SOCIAL|FAMILY|\bFH\b|BIRTH|IMMUNIZ|REVIEW OF SYSTEMS|\bROS\b|HABITS"),
    ("history", r"HISTORY|\bHPI\b|\bPMH\b|\bPSH\b|CHIEF COMPLAINT|REASON FOR|INDICATION|SUBJECTIVE|COURSE\b"
                r"|PRESENTATION|SUMMARY"),
    (SKIP, r"EXAM|PHYSICAL|VITAL|PROCEDURE|OPERATI|ANESTHESIA|TECHNIQUE|BLOOD LOSS|COMPLICATION|SPECIMEN|DRAIN"
           r"|FLUID|PLAN\b|DISPOSITION|INSTRUCTION|FOLLOW|RECOMMENDATION|CONDITION|DIET|ACTIVITY|TOURNIQUET"
           r"|URINE OUTPUT|DESCRIPTION|DETAIL|CONSENT|OBJECTIVE|SIGNATURE|CC\b"),
]
_HEADER_RULES = [(category, re.compile(pattern)) for category, pattern in _HEADER_RULES]

_UPPER_HEADER = re.compile(r"(?<![A-Za-z])([A-Z][A-Z0-9 /&()'-]{1,60}[A-Z)])\s*:")
_LINE_HEADER = re.compile(r"(?:^|(?<=[.!?;])\s)[ \t]*([A-Za-z][A-Za-z /&()'-]{2,50}?)[ \t]*:", re.MULTILINE)
_BARE_HEADER = re.compile(r"^[ \t]*([A-Z][A-Z /&'-]{3,60}[A-Z])[ \t]*,?[ \t]*$", re.MULTILINE)

_SENTENCE = re.compile(r"(?<!\bDr\.)(?<!\bMr\.)(?<!\bMs\.)(?<!\bMrs\.)(?<!\bvs\.)(?<!\bNo\.)(?<!\bSt\.)(?<!\be\.g\.)"
                       r"(?<!\bi\.e\.)(?<=[.!?])\s+(?=[A-Z0-9(])")
_LIST_MARK = re.compile(r"^\s*(?:\d{1,2}[.)]|[-*•])\s+")
_DOSE = re.compile(r"[A-Za-z][A-Za-z-]{2,}\b[^.;]{0,40}?\b\d+(?:\.\d+)?(?:/\d+(?:\.\d+)?)?\s*(?:mg|mcg|µg|gm?|grams?"
                   r"|units?|iu|ml|meq|mg/kg|puffs?|tablets?|tabs?|capsules?|caps?|drops?|patch(?:es)?)\b",
                   re.IGNORECASE)
_LAB_NAME = (r"ejection fraction|lvef|ef|hemoglobin a1c|hba1c|a1c|hemoglobin|hgb|hematocrit|hct|wbc|white (?:blood )?"
             r"(?:cell )?count|platelets?|sodium|potassium|chloride|bicarbonate|bun|creatinine|e?gfr|glucose|calcium"
             r"|magnesium|albumin|bilirubin|alt|ast|alkaline phosphatase|inr|ptt|troponin|n?t?-?pro-?bnp|bnp|tsh"
             r"|free t4|psa|cea|ca[- ]?125|ca ?19-9|ldl|hdl|cholesterol|triglycerides|lactate|ferritin|b12|vitamin d"
             r"|esr|crp|d-?dimer|fev1|fvc|dlco|oxygen saturation|saturations?|ki-?67|gleason")
_RESULT = re.compile(
    rf"\b(?:{_LAB_NAME})\b[^.;]{{0,40}}?\d"
    r"|\d+(?:\.\d+)?\s*(?:mg/dl|mg/l|g/dl|g/l|mmol/l|µmol/l|umol/l|meq/l|u/l|iu/l|units/l|ng/ml|ng/dl|pg/ml|mcg/l"
    r"|µg/l|miu/l|k/ul|/ul|x ?10\^?\d+/l|/mm3|mm/hr|ml/min|mmhg|%)"
    r"|\b(?:ct|cat scan|mri|mra|x-?rays?|radiograph\w*|ultrasound|sonogra\w*|echocardiogra\w*|echo|biopsy|pathology"
    r"|scan|angiogra\w*|colonoscopy|endoscopy|egd|ecg|ekg|eeg|emg|stress test|mammogra\w*|pet)\b[^.]{0,80}?"
    r"\b(?:show\w*|reveal\w*|demonstrat\w*|consistent with|positive for|negative for|significant for|normal|abnormal)",
    re.IGNORECASE)
_PROBLEM_CUE = re.compile(r"\b(?:diagnosed with|diagnosis (?:of|is|was)|found to have|impression|suspected|"
                          r"consistent with a diagnosis)\b", re.IGNORECASE)
_HISTORY_CUE = re.compile(r"\b(?:history of|presents? (?:with|for)|presented (?:with|for)|complain\w* of|underwent"
                          r"|status post|s/p|referred (?:for|by|to)|year-old|y/o|year old)\b", re.IGNORECASE)
_FILLER = re.compile(r"^(?:none|no(?:ne)? known\b.*|nkda|no (?:current |home )?medications?|as above|see (?:above|list"
                     r"|hpi)|please see\b.*|noncontributory|unremarkable|negative|n/?a|deferred)\W*$", re.IGNORECASE)

# signature lines, page furniture, demographics and dates alone: never a problem, a result or history
_BOILERPLATE = re.compile(
    r"^(?:(?:electronically |digitally )?(?:signed|authenticated|verified|approved|dictated|transcribed|reviewed"
    r"|attested|co-?signed)(?: (?:and \w+ )?(?:by|on|electronically))?\b"
    r"|signature\b|e-?signed\b|/s/|(?:page|pg\.?) \d+(?: (?:of|/) \d+)?\b|\d+ of \d+$"
    r"|(?:patient(?: name)?|name|pt(?: name)?|dob|d\.o\.b\.?|date of birth|birth ?date|born|mrn|medical record"
    r"(?: number| no\.?)?|account(?: number| no\.?)?|acct|fin|csn|encounter(?: number| no\.?| id)?"
    r"|visit(?: number| id)?"
    r"|sex|gender|age|address|phone|tel|fax|email|ssn|insurance|member id|policy(?: number)?|referring(?: physician"
    r"| provider)?|ordering(?: physician| provider)?|attending(?: physician)?|provider|physician|surgeon|pathologist"
    r"|radiologist|author|cc|copy to|copies to|date(?: of (?:service|visit|exam|report|procedure|admission"
    r"|discharge))?|time|printed|report (?:date|status|generated)|status|accession(?: number| no\.?)?|location"
    r"|facility|department|room)\s*[:#]"
    r"|dr\.? [a-z][\w.'-]*(?: [a-z][\w.'-]*)?,?(?: m\.?d\.?| d\.?o\.?)?\.?$"
    r"|(?:[a-z][\w.'-]+ ){1,3}(?:m\.?d\.?|d\.?o\.?|ph\.?d\.?|r\.?n\.?|np|pa-c)\.?$"
    r"|(?:confidential|privileged)\b|this (?:report|document|message) (?:is|contains|may)\b"
    r"|(?:end of (?:report|document)|continued (?:on|from)|\(?continued\)?)\W*$)",
    re.IGNORECASE)
_DATE_ONLY = re.compile(
    r"^\W*(?:(?:date|on|dated)\W*)?(?:\d{1,4}[/.-]\d{1,2}[/.-]\d{1,4}|\d{1,2} \w{3,9},? \d{2,4}"
    r"|\w{3,9}\.? \d{1,2},? \d{2,4}"
    r"|\d{4}-\d{2}-\d{2}(?:[t ]\d{1,2}:\d{2}(?::\d{2})?)?)(?:\s+\d{1,2}:\d{2}(?::\d{2})?(?:\s*[ap]\.?m\.?)?)?\W*$",
    re.IGNORECASE)


def boilerplate(item: str) -> bool:
    """A signature line, page header or footer, demographic field or a date alone: not clinical content."""
    item = " ".join((item or "").split())
    return bool(_BOILERPLATE.match(item) or _DATE_ONLY.match(item))


def _category(header: str) -> str | None:
    name = " ".join(header.upper().split())
    for category, pattern in _HEADER_RULES:
        if pattern.search(name):
            return category
    return None


def _normalise(text: str) -> str:
    """Line breaks where MTSamples-style exports turned them into commas ("PLAN:, Continue.,2.  Next")."""
    text = (text or "").replace("\r\n", "\n").replace("\r", "\n")
    text = re.sub(r"(?<=[.:]),\s*", "\n", text)
    text = re.sub(r",\s*(?=\d{1,2}\.\s)", "\n", text)
    return re.sub(r",\s*(?=[A-Z][A-Z /&()'-]{3,}[A-Z)]\s*(?::|,|\n|$))", "\n", text)


def _sections(text: str) -> list[tuple[str | None, str]]:
    """(category or None, body) in reading order; headers of no known kind keep the section they sit in."""
    marks = []
    for pattern in (_UPPER_HEADER, _LINE_HEADER, _BARE_HEADER):
        for m in pattern.finditer(text):
            if pattern is _LINE_HEADER and len(m.group(1).split()) > 4:
                continue
            category = _category(m.group(1))
            if category or pattern is _UPPER_HEADER or pattern is _BARE_HEADER:
                marks.append((m.start(), m.end(), category))
    marks.sort()
    out, position, current = [], 0, None
    for start, end, category in marks:
        if start < position:
            continue
        out.append((current, text[position:start]))
        position = end
        if category:
            current = category
    out.append((current, text[position:]))
    return [(category, body) for category, body in out if body.strip()]


def _trim(item: str) -> str:
    item = " ".join(item.split()).strip(" ,;:")
    if len(item) <= MAX_CHARS:
        return item
    cut = item[:MAX_CHARS - 1]
    return (cut.rsplit(" ", 1)[0] if " " in cut else cut).rstrip(" ,;:") + "…"


def _items(category: str | None, body: str) -> list[str]:
    out = []
    for line in body.split("\n"):
        line = _LIST_MARK.sub("", line).strip()
        if not line:
            continue
        pieces = _SENTENCE.split(line)
        if category == "medications":
            pieces = [p for piece in pieces for p in re.split(r"[;,](?!\d)\s*(?=[A-Za-z])", piece)]
        for piece in pieces:
            piece = _LIST_MARK.sub("", piece).strip(" ,;")
            if len(piece) >= 3 and re.search(r"[A-Za-z]{2}", piece) and not _FILLER.match(piece) \
                    and not boilerplate(piece):
                out.append(piece)
    return out


def _classify(section: str | None, item: str) -> str | None:
    if section == SKIP:
        return None
    if section in ("medications", "problems"):
        return section
    if section == "results":
        return "results"
    if _DOSE.search(item):
        return "medications"
    if _RESULT.search(item):
        return "results"
    if section == "history":
        return "history"
    if _PROBLEM_CUE.search(item):
        return "problems"
    if _HISTORY_CUE.search(item):
        return "history"
    return None


def _key(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", " ", text.lower()).strip()


def extract(sources: list[dict], limit: int = LIMIT) -> dict[str, list[dict]]:
    """{"history", "problems", "medications", "results"}: each a list of {"text", "ref"} (at most `limit`),
    in the order of the sources and of the text, duplicates dropped. Sources are {"ref", "kind", "text"}."""
    out: dict[str, list[dict]] = {category: [] for category in CATEGORIES}
    seen: dict[str, set[str]] = {category: set() for category in CATEGORIES}
    for source in sources or ():
        if not isinstance(source, dict):
            continue
        ref = str(source.get("ref") or "")
        for section, body in _sections(_normalise(str(source.get("text") or ""))):
            for item in _items(section, body):
                category = _classify(section, item)
                if category is None or len(out[category]) >= limit:
                    continue
                text = _trim(item)
                key = _key(text)
                if key and key not in seen[category]:
                    seen[category].add(key)
                    out[category].append({"text": text, "ref": ref})
    return out
