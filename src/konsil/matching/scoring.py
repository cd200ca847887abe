"""Pure matching rules over plain dicts: input validation, hard constraints and the explainable soft score.

Case and specialist dicts have the `konsil matching assign` input shapes (see issue 5); parse_case/parse_specialist
validate them and fill defaults. `check` applies the hard constraints, `score` the weighted soft factors; both
say why. optimize.SpecialistIndex computes the same numbers vectorized (tests keep the two in step).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, fields
from functools import lru_cache

from django.utils.translation import gettext as _

from konsil.core.deadlines import URGENCIES, review_hours

from . import catalog, licensure

DELIVERY_MODES = ("written", "video", "phone", "in_person")
DEFAULT_QUALITY = 0.5
MAX_TZ_GAP = 12.0
FACTORS = ("subspecialty", "deadline", "load", "quality", "continuity", "timezone", "cost")
_CODE2 = re.compile(r"^[A-Za-z]{2}$")


@dataclass(frozen=True)
class Weights:
    """Soft-factor weights (relative; a score is the weighted mean of the factors that apply to the pair)."""

    subspecialty: float = 0.25
    deadline: float = 0.20
    load: float = 0.15
    quality: float = 0.20
    continuity: float = 0.10
    timezone: float = 0.05
    cost: float = 0.05
    fee_ceiling: float = 1000.0  # a fee at or above this scores 0 on cost

    def __post_init__(self):
        for f in fields(self):
            value = getattr(self, f.name)
            if not isinstance(value, int | float) or math.isnan(value) or value < 0:
                raise ValueError(f"weight {f.name} must be a number >= 0")
        if self.fee_ceiling <= 0:
            raise ValueError("fee_ceiling must be > 0")


DEFAULT_WEIGHTS = Weights()


@dataclass
class Score:
    value: float
    factors: list[dict] = field(default_factory=list)  # {"factor", "value", "weight"}
    reasons: list[str] = field(default_factory=list)


@dataclass
class Evaluation:
    feasible: bool
    score: float | None
    factors: list[dict]
    reasons: list[str]


class InputError(ValueError):
    """A bad input record; `field` names the offending field."""

    def __init__(self, field_name: str, message: str):
        super().__init__(f"{field_name}: {message}")
        self.field = field_name
        self.message = message


# --- catalog ---------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Catalog:
    names: dict[str, str]
    parents: dict[str, str]

    def expand(self, codes) -> frozenset[str]:
        """The codes plus their parents (a subspecialist also practises the parent specialty)."""
        out = set()
        for code in codes:
            while code and code not in out:
                out.add(code)
                code = self.parents.get(code, "")
        return frozenset(out)

    def takers(self, code: str | None) -> frozenset[str]:
        """`code` and every specialty under it: whose practitioners may take a case of `code`."""
        if not code:
            return frozenset()
        return frozenset(c for c in self.names if code in self.expand([c])) | {code}

    def parent(self, code: str | None) -> str | None:
        return self.parents.get(code or "") or None


@lru_cache(maxsize=1)
def specialty_catalog() -> Catalog:
    rows = catalog.rows()
    return Catalog({r["code"]: r["name"] for r in rows}, {r["code"]: r["parent"] for r in rows if r.get("parent")})


def may_take(code: str | None, *, fallback: bool = False) -> frozenset[str]:
    """The specialties whose practitioners may take a case of specialty `code` (the one rule of the hierarchy,
    used by the ranking, the offer guard, the batch and the panels): `code` and its subspecialties, since a
    subspecialist takes cases of their parent specialty; with `fallback` (nobody under `code` is eligible), the
    parent specialty and everything under it too."""
    cat = specialty_catalog()
    codes = cat.takers(code)
    parent = cat.parent(code) if fallback else None
    return codes | cat.takers(parent) if parent else codes


def fallback_specialty(code: str | None) -> str | None:
    """Where a case of `code` may go when no specialist of `code` is eligible: its parent specialty (or None)."""
    return specialty_catalog().parent(code)


def fallback_note(case: dict) -> str | None:
    """The explanation of a case routed to the parent specialty (case["fallback_from"] set), else None."""
    sub = case.get("fallback_from")
    if not sub:
        return None
    names = specialty_catalog().names
    return _("no eligible %(sub)s specialist: the case goes to the parent specialty, %(parent)s") % {
        "sub": names.get(sub, sub), "parent": names.get(case["specialty"], case["specialty"])}


# --- input validation --------------------------------------------------------------------------------------------

def _ident(raw: dict, name: str, *, required: bool = True) -> str | None:
    value = raw.get(name)
    if value is None and not required:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int) or str(value).strip() == "":
        raise InputError(name, "expected a non-empty string or integer id")
    return str(value).strip()


def _choice(raw: dict, name: str, choices, *, default=None):
    value = raw.get(name, default)
    if value is None and default is None and name not in raw:
        raise InputError(name, "is required")
    if value not in choices:
        raise InputError(name, f"expected one of {', '.join(choices)}")
    return value


def _specialty(raw: dict, name: str, *, required: bool = True) -> str | None:
    value = raw.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or value not in specialty_catalog().names:
        raise InputError(name, "expected a specialty code from the catalog (konsil matching specialties)")
    return value


def _code2(value, name: str, *, upper: bool) -> str:
    if not isinstance(value, str) or not _CODE2.match(value):
        raise InputError(name, "expected a two-letter code")
    return value.upper() if upper else value.lower()


def _list(raw: dict, name: str, *, required: bool = False, item=None) -> list:
    value = raw.get(name)
    if value is None:
        if required:
            raise InputError(name, "is required (a list)")
        return []
    if not isinstance(value, list):
        raise InputError(name, "expected a list")
    out = []
    for v in value:
        if item is not None:
            out.append(item(v))
        elif isinstance(v, str | int) and not isinstance(v, bool) and str(v).strip():
            out.append(str(v).strip())
        else:
            raise InputError(name, "expected a list of non-empty strings")
    return out


def _bool(raw: dict, name: str, default: bool) -> bool:
    value = raw.get(name, default)
    if not isinstance(value, bool):
        raise InputError(name, "expected true or false")
    return value


def _number(raw: dict, name: str, *, lo: float | None = None, hi: float | None = None, required: bool = False,
            integer: bool = False, default=None, above: float | None = None):
    value = raw.get(name)
    if value is None:
        if required:
            raise InputError(name, "is required")
        return default
    ok = isinstance(value, int) if integer else isinstance(value, int | float)
    if isinstance(value, bool) or not ok or (isinstance(value, float) and not math.isfinite(value)):
        raise InputError(name, "expected an integer" if integer else "expected a number")
    if (lo is not None and value < lo) or (hi is not None and value > hi) or (above is not None and value <= above):
        bounds = f"> {above}" if above is not None else f"between {lo} and {hi}" if hi is not None else f">= {lo}"
        raise InputError(name, f"must be {bounds}")
    return value


def parse_case(raw) -> dict:
    """Validate a case record and return a normalized copy (InputError names the first bad field)."""
    if not isinstance(raw, dict):
        raise InputError("record", "expected a JSON object")
    country = _code2(raw.get("country", "US"), "country", upper=True)
    state = raw.get("state")
    state = _code2(state, "state", upper=True) if (state is not None or country == "US") else None
    case = {
        "id": _ident(raw, "id"),
        "specialty": _specialty(raw, "specialty"),
        "subspecialty": _specialty(raw, "subspecialty", required=False),
        "subspecialty_required": _bool(raw, "subspecialty_required", False),
        "country": country,
        "state": state,
        "language": _code2(raw.get("language"), "language", upper=False),
        "urgency": _choice(raw, "urgency", URGENCIES),
        "channel": _choice(raw, "channel", licensure.CHANNELS),
        "interpreter": _bool(raw, "interpreter", False),
        "delivery": None if raw.get("delivery") is None else _choice(raw, "delivery", DELIVERY_MODES),
        "institution_excluded": _list(raw, "institution_excluded"),
        "declined_by": _list(raw, "declined_by"),
        "referring_physician": _ident(raw, "referring_physician", required=False),
        "first_opinion_physician": _ident(raw, "first_opinion_physician", required=False),
        "previous_specialists": _list(raw, "previous_specialists"),
        "utc_offset": _number(raw, "utc_offset", lo=-12, hi=14),
    }
    if case["subspecialty_required"] and not case["subspecialty"]:
        raise InputError("subspecialty", "is required when subspecialty_required is true")
    return case


def parse_specialist(raw) -> dict:
    """Validate a specialist record and return a normalized copy (InputError names the first bad field)."""
    if not isinstance(raw, dict):
        raise InputError("record", "expected a JSON object")
    spec = {
        "id": _ident(raw, "id"),
        "specialties": _list(raw, "specialties", required=True,
                             item=lambda v: _specialty({"specialties": v}, "specialties")),
        "subspecialties": _list(raw, "subspecialties", item=lambda v: _specialty({"subspecialties": v},
                                                                                  "subspecialties")),
        "licensed_states": _list(raw, "licensed_states", required=True,
                                 item=lambda v: _code2(v, "licensed_states", upper=True)),
        "licensed_countries": _list(raw, "licensed_countries",
                                    item=lambda v: _code2(v, "licensed_countries", upper=True)),
        "imlc": _bool(raw, "imlc", False),
        "languages": _list(raw, "languages", required=True, item=lambda v: _code2(v, "languages", upper=False)),
        "capacity": _number(raw, "capacity", lo=0, integer=True, required=True),
        "active": _number(raw, "active", lo=0, integer=True, default=0),
        "institution": raw.get("institution") or "",
        "affiliations": _list(raw, "affiliations"),
        "turnaround_hours": _number(raw, "turnaround_hours", above=0, required=True),
        "quality": _number(raw, "quality", lo=0, hi=1),
        "accepting": _bool(raw, "accepting", True),
        "delivery_modes": _list(raw, "delivery_modes",
                                item=lambda v: _choice({"delivery_modes": v}, "delivery_modes", DELIVERY_MODES))
        or ["written"],
        "utc_offset": _number(raw, "utc_offset", lo=-12, hi=14),
        "fee": _number(raw, "fee", lo=0),
    }
    if not spec["specialties"]:
        raise InputError("specialties", "at least one specialty is required")
    if not spec["languages"]:
        raise InputError("languages", "at least one language is required")
    if not isinstance(spec["institution"], str):
        raise InputError("institution", "expected a string")
    return spec


# --- hard constraints --------------------------------------------------------------------------------------------

def practised(specialist: dict) -> frozenset[str]:
    """Specialty codes the specialist fits (their specialties and subspecialties, with parents)."""
    return specialty_catalog().expand([*specialist["specialties"], *specialist["subspecialties"]])


def has_subspecialty(specialist: dict, code: str | None) -> bool:
    return bool(code) and (code in specialist["specialties"] or code in specialist["subspecialties"])


def free_slots(specialist: dict) -> int:
    return max(0, specialist["capacity"] - specialist["active"])


def decide_licensure(case: dict, specialist: dict, table=None) -> licensure.Decision:
    return licensure.eligibility(case["state"], case["channel"], specialist["licensed_states"], specialist["imlc"],
                                 country=case["country"], licensed_countries=specialist["licensed_countries"],
                                 table=table)


def conflicts(case: dict, specialist: dict) -> list[str]:
    """Conflict-of-interest problems (institution excluded by the case, referring or first-opinion physician)."""
    out = []
    excluded = set(case["institution_excluded"])
    for place in [specialist["institution"], *specialist["affiliations"]]:
        if place and place in excluded:
            out.append(_("works at %(place)s, which this case excludes (conflict of interest)") % {"place": place})
    if specialist["id"] == case["referring_physician"]:
        out.append(_("is the referring physician (conflict of interest)"))
    if specialist["id"] == case["first_opinion_physician"]:
        out.append(_("gave the first opinion (conflict of interest)"))
    return out


def check(case: dict, specialist: dict, *, table=None) -> tuple[bool, list[str]]:
    """Hard constraints: (feasible, reasons) - the violations when infeasible, else what was checked."""
    problems, notes = [], []
    names = specialty_catalog().names
    spec_name = {"specialty": names.get(case["specialty"], case["specialty"])}
    if not specialist["accepting"]:
        problems.append(_("is not accepting cases"))
    note = fallback_note(case)
    if note:
        notes.append(note)
    if (set(specialist["specialties"]) | set(specialist["subspecialties"])) & may_take(case["specialty"]):
        notes.append(_("practises %(specialty)s") % spec_name)
    else:
        problems.append(_("does not practise %(specialty)s") % spec_name)
    sub = case["subspecialty"]
    if sub and case["subspecialty_required"] and not has_subspecialty(specialist, sub):
        problems.append(_("does not practise %(specialty)s, which this case requires")
                        % {"specialty": names.get(sub, sub)})
    decision = decide_licensure(case, specialist, table)
    (notes if decision.eligible else problems).append(decision.rule)
    language = {"language": case["language"]}
    if case["language"] in specialist["languages"]:
        notes.append(_("speaks the patient's language (%(language)s)") % language)
    elif case["interpreter"]:
        notes.append(_("needs an interpreter for %(language)s (requested on the case)") % language)
    else:
        problems.append(_("does not speak the patient's language (%(language)s) and no interpreter is requested")
                        % language)
    if free_slots(specialist) <= 0:
        problems.append(_("has no free case slots"))
    problems.extend(conflicts(case, specialist))
    if specialist["id"] in case["declined_by"]:
        problems.append(_("already declined this case"))
    mode = case["delivery"]
    if mode and mode not in specialist["delivery_modes"]:
        problems.append(_("does not offer %(mode)s opinions") % {"mode": mode})
    elif mode:
        notes.append(_("offers %(mode)s opinions") % {"mode": mode})
    return (not problems, problems or notes)


# --- soft score --------------------------------------------------------------------------------------------------

def urgency_label(urgency: str) -> str:
    return {"routine": _("routine"), "urgent": _("urgent"), "stat": _("STAT")}[urgency]


def deadline_value(turnaround_hours: float, urgency: str) -> float:
    """1 for an instant answer, 0.5 exactly at the urgency's review deadline (core.deadlines: the review clock's),
    1/3 at twice it and on down: a faster specialist always scores higher, even when none can meet a STAT clock."""
    limit = review_hours()[urgency]
    return limit / (limit + max(0.0, turnaround_hours))


def timezone_value(a: float, b: float) -> float:
    return 1.0 - min(abs(a - b), MAX_TZ_GAP) / MAX_TZ_GAP


def score(case: dict, specialist: dict, weights: Weights = DEFAULT_WEIGHTS) -> Score:
    """The weighted mean of the soft factors that apply to this pair, in [0, 1], with each factor's reason."""
    total, wsum = 0.0, 0.0
    result = Score(0.0)

    def add(name: str, value: float, reason: str) -> None:
        nonlocal total, wsum
        weight = getattr(weights, name)
        total += weight * value
        wsum += weight
        result.factors.append({"factor": name, "value": value, "weight": weight})
        result.reasons.append(reason)

    names = specialty_catalog().names
    sub = case["subspecialty"]
    if sub:
        has = has_subspecialty(specialist, sub)
        label = {"specialty": names.get(sub, sub)}
        add("subspecialty", 1.0 if has else 0.0,
            (_("practises %(specialty)s, the subspecialty asked for") if has
             else _("does not practise %(specialty)s, the subspecialty asked for")) % label)
    hours, urgency = specialist["turnaround_hours"], case["urgency"]
    limit = review_hours()[urgency]
    params = {"hours": hours, "limit": limit, "urgency": urgency_label(urgency)}
    add("deadline", deadline_value(hours, urgency),
        (_("returns opinions in %(hours)g h, within the %(limit)g h %(urgency)s deadline") if hours <= limit
         else _("returns opinions in %(hours)g h, later than the %(limit)g h %(urgency)s deadline")) % params)
    free, cap = free_slots(specialist), specialist["capacity"]
    add("load", free / cap if cap else 0.0, _("%(free)d of %(cap)d case slots free") % {"free": free, "cap": cap})
    quality = specialist["quality"]
    add("quality", DEFAULT_QUALITY if quality is None else float(quality),
        _("no quality data (counted as %(q).2f)") % {"q": DEFAULT_QUALITY} if quality is None
        else _("quality signal %(q).2f") % {"q": quality})
    if case["previous_specialists"]:
        seen = specialist["id"] in case["previous_specialists"]
        add("continuity", 1.0 if seen else 0.0,
            _("has seen this patient before") if seen else _("has not seen this patient before"))
    if case["utc_offset"] is not None and specialist["utc_offset"] is not None:
        gap = abs(case["utc_offset"] - specialist["utc_offset"])
        add("timezone", timezone_value(case["utc_offset"], specialist["utc_offset"]),
            _("time zones %(gap)g h apart") % {"gap": gap} if gap else _("same time zone as the patient"))
    if specialist["fee"] is not None:
        add("cost", max(0.0, 1.0 - specialist["fee"] / weights.fee_ceiling),
            _("fee %(fee)g (lower fees rank higher; fees of %(ceiling)g or more get no credit)")
            % {"fee": specialist["fee"], "ceiling": weights.fee_ceiling})
    result.value = total / wsum if wsum > 0 else 0.0
    return result


def evaluate(case: dict, specialist: dict, weights: Weights = DEFAULT_WEIGHTS, *, table=None) -> Evaluation:
    """Hard constraints, then the soft score: the full explanation of one (case, specialist) pair."""
    feasible, reasons = check(case, specialist, table=table)
    if not feasible:
        return Evaluation(False, None, [], reasons)
    s = score(case, specialist, weights)
    return Evaluation(True, s.value, s.factors, reasons + s.reasons)
