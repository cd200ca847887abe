"""ANSI X12 through pyx12: validate a file against its implementation guide's map, read 834 member loops,
write 834 (demo and tests) and 837P claims. Segments are read with pyx12's tokenizer; nothing is split by hand."""

from __future__ import annotations

import io
import json
import logging
from dataclasses import dataclass, field
from datetime import date, datetime

import pyx12.errors
import pyx12.params
import pyx12.x12file
import pyx12.x12n_document
from django.utils.translation import gettext as _

logging.getLogger("pyx12").setLevel(logging.CRITICAL)  # it logs segments (PHI) at error level

TRANSACTIONS = {"834": ("BE", "005010X220A1"), "837": ("HC", "005010X222A1")}


@dataclass
class Error:
    level: str  # interchange, group, transaction, segment
    line: int | None
    segment: str
    message: str


@dataclass
class Report:
    valid: bool
    errors: list[Error] = field(default_factory=list)


def _envelope(text: str) -> tuple[str, str, str]:
    """(GS01, ST01, GS08) of the first functional group; pyx12's reader does the tokenizing."""
    gs01 = st01 = gs08 = ""
    for seg in pyx12.x12file.X12Reader(io.StringIO(text)):
        sid = seg.get_seg_id()
        if sid == "GS":
            gs01, gs08 = seg.get_value("GS01") or "", seg.get_value("GS08") or ""
        elif sid == "ST":
            return gs01, seg.get_value("ST01") or "", gs08
    return gs01, st01, gs08


def validate(text: str, *, expect: str) -> Report:
    """Validate `text` as the `expect` transaction ("834" or "837"), returning every error found."""
    if not text.lstrip().startswith("ISA") or len(text.lstrip()) < 106:
        return Report(False, [Error("interchange", 1, "ISA", _("The file does not start with an ISA segment."))])
    try:
        fic, st01, version = _envelope(text.lstrip())
    except (pyx12.errors.X12Error, pyx12.errors.EngineError, ValueError, IndexError) as exc:
        return Report(False, [Error("interchange", 1, "ISA", _("The envelope cannot be read (%(error)s).")
                                    % {"error": str(exc)[:200]})])
    want_fic, want_version = TRANSACTIONS[expect]
    if (fic, st01, version) != (want_fic, expect, want_version):
        return Report(False, [Error("group", None, "GS", _("Expected an %(want)s file (%(version)s); this one is "
                                                          "%(got)s %(got_version)s.")
                                    % {"want": expect, "version": want_version, "got": st01 or "?",
                                       "got_version": version or "?"})])
    out = io.StringIO()
    try:
        valid = pyx12.x12n_document.x12n_document(pyx12.params.params(), io.StringIO(text.lstrip()), None, None,
                                                  None, out)
    except (pyx12.errors.X12Error, pyx12.errors.EngineError, ValueError, IndexError, KeyError,
            AttributeError, TypeError) as exc:
        return Report(False, [Error("interchange", None, "ISA", _("The file cannot be read as X12 (%(error)s).")
                                    % {"error": type(exc).__name__})])
    errors = _errors(json.loads(out.getvalue() or '{"interchanges": []}'))
    if not valid and not errors:
        errors.append(Error("interchange", None, "ISA", _("The file is not valid X12.")))
    return Report(valid and not errors, errors)


def _errors(doc: dict) -> list[Error]:
    found: list[Error] = []

    def add(level, node, seg=""):
        for e in node.get("errors", []):
            found.append(Error(level, node.get("cur_line"), seg or level.upper()[:3], _clean(e)))

    for isa in doc.get("interchanges", []):
        add("interchange", isa, "ISA")
        for gs in isa.get("groups", []):
            add("group", gs, "GS")
            for st in gs.get("transactions", []):
                add("transaction", st, "ST")
                for seg in st.get("segments", []):
                    add("segment", seg, seg.get("seg_id", ""))
                    for ele in seg.get("elements", []):
                        for e in ele.get("errors", []):
                            found.append(Error("segment", seg.get("cur_line"), seg.get("seg_id", ""), _clean(e)))
    return found


def _clean(err: dict) -> str:
    """pyx12's message without the offending value (it may be a name or a birth date)."""
    text = str(err.get("err_str", ""))
    value = str(err.get("err_val") or "")
    if value:
        text = text.replace(f"({value})", "").replace(value, "…")
    return " ".join(text.split())[:300]


def d8(value: str) -> str:
    """CCYYMMDD -> YYYY-MM-DD (left as it is when it is not one: validation reports it)."""
    value = str(value or "")
    return f"{value[:4]}-{value[4:6]}-{value[6:8]}" if len(value) == 8 and value.isdigit() else value


def members_834(text: str) -> list[dict]:
    """The member loops of an 834: INS, REF*0F, NM1*IL, DMG and the dates (DTP 348/349 in 2300, 356/357)."""
    members: list[dict] = []
    current: dict | None = None
    reader = pyx12.x12file.X12Reader(io.StringIO(text.lstrip()))
    for seg in reader:
        sid = seg.get_seg_id()
        if sid == "INS":
            current = {"_line": reader.get_cur_line(), **{f"INS0{i}": seg.get_value(f"INS0{i}") or ""
                                                          for i in (1, 2, 3)}}
            members.append(current)
        elif current is None:
            continue
        elif sid == "REF" and seg.get_value("REF01") == "0F":
            current["REF0F"] = seg.get_value("REF02") or ""
        elif sid == "NM1" and seg.get_value("NM101") == "IL":
            for i in (3, 4, 9):
                current[f"NM10{i}"] = seg.get_value(f"NM10{i}") or ""
        elif sid == "N3":
            current.setdefault("N301", seg.get_value("N301") or "")
        elif sid == "N4":
            for i in (1, 2, 3):
                current.setdefault(f"N40{i}", seg.get_value(f"N40{i}") or "")
        elif sid == "DMG":
            current["DMG02"], current["DMG03"] = seg.get_value("DMG02") or "", seg.get_value("DMG03") or ""
        elif sid == "DTP" and seg.get_value("DTP01") in ("348", "349", "356", "357"):
            current.setdefault(f"DTP{seg.get_value('DTP01')}", seg.get_value("DTP03") or "")
        elif sid in ("SE", "GE", "IEA"):
            current = None
    return members


# --- writing ------------------------------------------------------------------------------------------------

def _clean_value(value) -> str:
    return "".join(c for c in str(value or "") if c not in "*~:^\r\n").upper()[:60]


def _isa(sender: str, receiver: str, control: int, when: datetime, fic: str) -> list[str]:
    return [
        f"ISA*00*{'':10}*00*{'':10}*ZZ*{_clean_value(sender)[:15]:15}*ZZ*{_clean_value(receiver)[:15]:15}*"
        f"{when:%y%m%d}*{when:%H%M}*^*00501*{control:09d}*0*P*:",
        f"GS*{fic}*{_clean_value(sender)[:15]}*{_clean_value(receiver)[:15]}*{when:%Y%m%d}*{when:%H%M}*{control}*X*"
        f"{TRANSACTIONS['834' if fic == 'BE' else '837'][1]}",
    ]


def _close(segments: list[str], control: int) -> str:
    st_index = next(i for i, s in enumerate(segments) if s.startswith("ST*"))
    count = len(segments) - st_index + 1
    segments += [f"SE*{count}*0001", f"GE*1*{control}", f"IEA*1*{control:09d}"]
    return "~\n".join(segments) + "~\n"


def write_834(members: list[dict], *, sponsor: str, sponsor_tax_id: str, receiver: str, control: int,
              when: datetime) -> str:
    """An 834 with one INS loop per member dict (member_id, subscriber_id, relationship, given_name,
    family_name, birth_date, sex, coverage_start, coverage_end, action)."""
    codes = {"subscriber": "18", "spouse": "01", "child": "19", "other": "G8"}
    actions = {"add": "021", "change": "001", "terminate": "024", "": "030"}
    segs = _isa(sponsor, receiver, control, when, "BE") + [
        "ST*834*0001*005010X220A1", f"BGN*00*{control}*{when:%Y%m%d}*{when:%H%M}****2",
        f"N1*P5*{_clean_value(sponsor)}*FI*{sponsor_tax_id}", f"N1*IN*{_clean_value(receiver)}*FI*999999999"]
    for m in members:
        sub = m.get("relationship", "subscriber") == "subscriber"
        ins03 = actions[m.get("action", "add")]
        segs.append(f"INS*{'Y' if sub else 'N'}*{codes.get(m.get('relationship'), '18')}*{ins03}*"
                    f"{'AI' if ins03 == '024' else '28'}*A***FT")
        segs.append(f"REF*0F*{_clean_value(m.get('subscriber_id') or m['member_id'])}")
        segs.append(f"NM1*IL*1*{_clean_value(m['family_name'])}*{_clean_value(m['given_name'])}****ZZ*"
                    f"{_clean_value(m['member_id'])}")
        if m.get("address"):
            segs.append(f"N3*{_clean_value(m['address'])}")
            segs.append(f"N4*{_clean_value(m['city'])}*{m['state']}*{m['postal_code']}")
        segs.append(f"DMG*D8*{_d8(m['birth_date'])}*{(m.get('sex') or 'U')[0].upper()}")
        segs.append(f"HD*{ins03}**HLT")
        segs.append(f"DTP*348*D8*{_d8(m['coverage_start'])}")
        if m.get("coverage_end"):
            segs.append(f"DTP*349*D8*{_d8(m['coverage_end'])}")
    return _close(segs, control)


def _d8(value) -> str:
    return (value.isoformat() if isinstance(value, date) else str(value)).replace("-", "")


@dataclass
class ClaimData:
    """What one 837P claim says; the caller gathers it from the case, the member and the billing profile."""

    control: int
    when: datetime
    submitter: str
    submitter_id: str
    submitter_phone: str
    receiver: str
    receiver_id: str
    billing_name: str
    billing_npi: str
    billing_tax_id: str
    billing_address: str
    billing_city: str
    billing_state: str
    billing_zip: str
    payer_name: str
    payer_id: str
    member_id: str
    subscriber_family: str
    subscriber_given: str
    subscriber_birth: date
    subscriber_sex: str
    claim_id: str
    amount_cents: int
    place_of_service: str
    diagnoses: list[str]
    cpt: str
    modifier: str
    service_date: date
    rendering_family: str = ""
    rendering_given: str = ""
    rendering_npi: str = ""
    subscriber_address: tuple[str, str, str, str] = ("", "", "", "")  # line, city, state, ZIP
    patient: dict | None = None  # a dependant: {"family", "given", "birth", "sex", "relationship", "address"}


def write_837p(c: ClaimData) -> str:
    """One professional claim (005010X222A1): billing provider, subscriber (and patient), one service line."""
    amount = f"{c.amount_cents / 100:.2f}".rstrip("0").rstrip(".")
    sex = (c.subscriber_sex or "U")[0].upper()
    segs = _isa(c.submitter_id, c.receiver_id, c.control, c.when, "HC") + [
        "ST*837*0001*005010X222A1",
        f"BHT*0019*00*{c.control}*{c.when:%Y%m%d}*{c.when:%H%M}*CH",
        f"NM1*41*2*{_clean_value(c.submitter)}*****46*{_clean_value(c.submitter_id)}",
        f"PER*IC*BILLING*TE*{''.join(ch for ch in c.submitter_phone if ch.isdigit()) or '0000000000'}",
        f"NM1*40*2*{_clean_value(c.receiver)}*****46*{_clean_value(c.receiver_id)}",
        "HL*1**20*1",
        f"NM1*85*2*{_clean_value(c.billing_name)}*****XX*{c.billing_npi}",
        f"N3*{_clean_value(c.billing_address)}",
        f"N4*{_clean_value(c.billing_city)}*{c.billing_state}*{c.billing_zip}",
        f"REF*EI*{c.billing_tax_id}",
        f"HL*2*1*22*{1 if c.patient else 0}",
        f"SBR*P*{'' if c.patient else '18'}*******CI",
        f"NM1*IL*1*{_clean_value(c.subscriber_family)}*{_clean_value(c.subscriber_given)}****MI*"
        f"{_clean_value(c.member_id)}",
        *_address(c.subscriber_address),
        f"DMG*D8*{_d8(c.subscriber_birth)}*{sex if sex in 'FMU' else 'U'}",
        f"NM1*PR*2*{_clean_value(c.payer_name)}*****PI*{_clean_value(c.payer_id)}",
    ]
    if c.patient:
        p = c.patient
        psex = (p.get("sex") or "U")[0].upper()
        segs += ["HL*3*2*23*0", f"PAT*{p.get('relationship', '19')}",
                 f"NM1*QC*1*{_clean_value(p['family'])}*{_clean_value(p['given'])}",
                 *_address(p.get("address") or c.subscriber_address),
                 f"DMG*D8*{_d8(p['birth'])}*{psex if psex in 'FMU' else 'U'}"]
    codes = [d.replace(".", "").upper() for d in c.diagnoses][:12]
    segs += [f"CLM*{_clean_value(c.claim_id)}*{amount}***{c.place_of_service}:B:1*Y*A*Y*Y",
             "HI*" + "*".join(f"{'ABK' if i == 0 else 'ABF'}:{code}" for i, code in enumerate(codes))]
    if c.rendering_npi:
        segs.append(f"NM1*82*1*{_clean_value(c.rendering_family)}*{_clean_value(c.rendering_given)}****XX*"
                    f"{c.rendering_npi}")
    procedure = f"HC:{c.cpt}" + (f":{c.modifier}" if c.modifier else "")
    segs += ["LX*1", f"SV1*{procedure}*{amount}*UN*1***1", f"DTP*472*D8*{_d8(c.service_date)}"]
    return _close(segs, c.control)


def _address(address) -> list[str]:
    line, city, state, postal = address
    if not line:
        return []
    return [f"N3*{_clean_value(line)}", f"N4*{_clean_value(city)}*{_clean_value(state)[:2]}*{_clean_value(postal)}"]
