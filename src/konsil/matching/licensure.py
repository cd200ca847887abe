"""Licensure as data: who may give an opinion to a patient located in a given jurisdiction.

The rules live in data/licensure_us.csv (US states, DC, PR) and data/licensure_countries.csv (other countries);
see data/README.md. They are curated decision support: operators must check them. A specialist licensed where the
patient is located is always eligible; otherwise the row for that jurisdiction decides by the case's channel.
"""

from __future__ import annotations

import csv
import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from django.utils.translation import gettext as _

DATA = Path(__file__).with_name("data")
US_FILE = DATA / "licensure_us.csv"
COUNTRIES_FILE = DATA / "licensure_countries.csv"

ALLOWED, CONSULT_ONLY, NOT_ALLOWED = "allowed", "consult_only", "not_allowed"
DIRECT_VALUES = (ALLOWED, CONSULT_ONLY, NOT_ALLOWED)
CHANNELS = ("patient", "clinician", "payer", "employer")
CONSULT_CHANNELS = frozenset({"clinician"})  # physician-to-physician: a local treating physician is involved
US = "US"
_CODE = re.compile(r"^[A-Z]{2}$")
_BOOLS = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}

# Decision codes
LICENSED = "licensed"
OUT_OF_STATE_ALLOWED = "out_of_state_allowed"
CONSULTATION = "consultation_exception"
NEEDS_LOCAL_PHYSICIAN = "needs_local_physician"
NEEDS_LICENCE = "needs_licence"
UNKNOWN_JURISDICTION = "unknown_jurisdiction"


class LicensureDataError(ValueError):
    """The licensure file is missing or malformed (the message names the file, line and field)."""


@dataclass(frozen=True)
class Rule:
    code: str  # USPS state code or ISO 3166-1 alpha-2 country code
    name: str
    direct_to_patient: str
    imlc_member: bool
    source: str
    as_of: dt.date
    notes: str = ""


@dataclass(frozen=True)
class Table:
    states: dict[str, Rule]
    countries: dict[str, Rule]


@dataclass(frozen=True)
class Decision:
    eligible: bool
    rule: str  # a human sentence naming the rule applied
    code: str


def read_rules(path: Path | str, *, key: str) -> dict[str, Rule]:
    """Parse and validate one rules file; `key` is its code column ("state" or "country")."""
    path = Path(path)
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            needed = {key, "name", "direct_to_patient", "source", "as_of"}
            needed |= {"imlc_member"} if key == "state" else set()
            missing = needed - set(reader.fieldnames or ())
            if missing:
                raise LicensureDataError(f"{path.name}: missing columns: {', '.join(sorted(missing))}")
            rules: dict[str, Rule] = {}
            for line, row in enumerate(reader, start=2):
                rule = _rule(row, key, f"{path.name}:{line}")
                if rule.code in rules:
                    raise LicensureDataError(f"{path.name}:{line}: {key}: duplicate {rule.code}")
                rules[rule.code] = rule
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise LicensureDataError(f"{path}: cannot be read ({exc})") from exc
    return rules


def _rule(row: dict, key: str, where: str) -> Rule:
    def field(name: str) -> str:
        return (row.get(name) or "").strip()

    code = field(key).upper()
    if not _CODE.match(code):
        raise LicensureDataError(f"{where}: {key}: expected a two-letter code, got {field(key)!r}")
    direct = field("direct_to_patient")
    if direct not in DIRECT_VALUES:
        raise LicensureDataError(f"{where}: direct_to_patient: expected one of {', '.join(DIRECT_VALUES)}, "
                                 f"got {direct!r}")
    imlc = _BOOLS.get(field("imlc_member").lower() or "false")
    if imlc is None:
        raise LicensureDataError(f"{where}: imlc_member: expected true or false, got {field('imlc_member')!r}")
    if not field("source"):
        raise LicensureDataError(f"{where}: source: a public reference is required")
    try:
        as_of = dt.date.fromisoformat(field("as_of"))
    except ValueError:
        raise LicensureDataError(f"{where}: as_of: expected a date YYYY-MM-DD, got {field('as_of')!r}") from None
    return Rule(code, field("name") or code, direct, imlc, field("source"), as_of, field("notes"))


@lru_cache(maxsize=8)
def load(us_path: Path | str | None = None, countries_path: Path | str | None = None) -> Table:
    """The validated rules (cached per pair of paths); LicensureDataError on a bad file."""
    return Table(read_rules(us_path or US_FILE, key="state"),
                 read_rules(countries_path or COUNTRIES_FILE, key="country"))


def load_table() -> Table:
    """The rules as an admin keeps them in the database (LicensureRule), or the shipped files when there is no
    database to read (the `konsil matching` CLI) or its table is empty."""
    from django.core.exceptions import AppRegistryNotReady, ImproperlyConfigured
    from django.db import DatabaseError

    try:
        from .models import LicensureRule

        rows = list(LicensureRule.objects.all())
    except (AppRegistryNotReady, ImproperlyConfigured, DatabaseError):
        return load()
    if not rows:
        return load()
    states, countries = {}, {}
    for r in rows:
        rule = Rule(r.code.upper(), r.name or r.code, r.direct_to_patient, r.imlc_member, r.source, r.as_of, r.notes)
        (states if r.kind == "state" else countries)[rule.code] = rule
    return Table(states, countries)


def rule_applied(table: Table, state: str | None, country: str = US) -> Rule | None:
    """The table's row for where the patient is (None when there is none)."""
    return _rule_for(table, (state or "").upper(), (country or US).upper())


def _rule_for(table: Table, state: str, country: str) -> Rule | None:
    return table.states.get(state) if country == US else table.countries.get(country)


def allows_without_licence(state: str | None, channel: str, *, country: str = US,
                           table: Table | None = None) -> bool:
    """Whether a specialist NOT licensed in the patient's jurisdiction is eligible (same for every specialist)."""
    table = table or load()
    country = (country or US).upper()
    rule = _rule_for(table, (state or "").upper(), country)
    if rule is None:
        return False
    return rule.direct_to_patient == ALLOWED or (rule.direct_to_patient == CONSULT_ONLY and channel in CONSULT_CHANNELS)


def jurisdiction(state: str | None, country: str = US) -> str:
    """The code a licence must carry to count where the patient is: the state in the US, else the country."""
    country = (country or US).upper()
    return (state or "").upper() if country == US else country


def eligibility(patient_state: str | None, channel: str, specialist_licensed_states: Iterable[str],
                specialist_imlc: bool = False, *, country: str = US, licensed_countries: Iterable[str] = (),
                table: Table | None = None) -> Decision:
    """Decide whether a specialist may give this patient an opinion, with the rule applied as a sentence."""
    if channel not in CHANNELS:
        raise ValueError(f"unknown channel {channel!r}")
    table = table or load()
    country = (country or US).upper()
    where = jurisdiction(patient_state, country)
    if not where:
        return Decision(False, _("the patient's state is unknown"), UNKNOWN_JURISDICTION)
    held = {c.upper() for c in (specialist_licensed_states if country == US else licensed_countries)}
    if where in held:
        return Decision(True, _("licensed in %(where)s") % {"where": where}, LICENSED)
    rule = _rule_for(table, where, country)
    if rule is None:
        return Decision(False, _("not licensed in %(where)s and no licensure rule is configured for %(where)s")
                        % {"where": where}, UNKNOWN_JURISDICTION)
    names = {"where": where, "name": rule.name}
    abroad = country != US
    if rule.direct_to_patient == ALLOWED:
        text = (_("%(where)s allows physicians licensed abroad to give opinions directly to patients") if abroad
                else _("%(where)s allows out-of-state physicians to give opinions directly to patients"))
        return Decision(True, text % names, OUT_OF_STATE_ALLOWED)
    if rule.direct_to_patient == CONSULT_ONLY and channel in CONSULT_CHANNELS:
        text = (_("%(where)s allows physicians licensed abroad to advise a local physician (clinician referral)")
                if abroad else
                _("%(where)s allows out-of-state consultation with a local physician (clinician referral)"))
        return Decision(True, text % names, CONSULTATION)
    if rule.direct_to_patient == CONSULT_ONLY:
        text, code = (_("not licensed in %(where)s and %(where)s allows out-of-state opinions only in consultation "
                        "with a local physician (not a clinician referral)") % names, NEEDS_LOCAL_PHYSICIAN)
    else:
        text, code = _("not licensed in %(where)s and %(where)s requires a %(name)s licence") % names, NEEDS_LICENCE
    if country == US and specialist_imlc and rule.imlc_member:
        text += "; " + _("could obtain an expedited licence via IMLC")
    return Decision(False, text, code)
