"""Enumerations of the case domain."""

import unicodedata
from functools import lru_cache

from django.db import models
from django.utils.translation import gettext_lazy as _


class Status(models.TextChoices):
    DRAFT = "draft", _("Draft")
    SUBMITTED = "submitted", _("Submitted")
    TRIAGED = "triaged", _("Triaged")
    OFFERED = "offered", _("Offered to a specialist")
    ACCEPTED = "accepted", _("Accepted")
    IN_REVIEW = "in_review", _("In review")
    INFO_REQUESTED = "info_requested", _("Information requested")
    OPINION_DRAFTED = "opinion_drafted", _("Opinion drafted")
    SIGNED = "signed", _("Opinion signed")
    DELIVERED = "delivered", _("Delivered")
    CLOSED = "closed", _("Closed")
    CANCELLED = "cancelled", _("Cancelled")
    WITHDRAWN = "withdrawn", _("Withdrawn")


OPEN_STATUSES = frozenset(Status) - {Status.DRAFT, Status.CLOSED, Status.CANCELLED, Status.WITHDRAWN}
# What the care team still has to do something about: a delivered case waits for the patient to close it.
IN_WORK_STATUSES = OPEN_STATUSES - {Status.DELIVERED}


class Channel(models.TextChoices):
    PATIENT = "patient", _("Patient direct")
    CLINICIAN = "clinician", _("Clinician referral")
    PAYER = "payer", _("Payer program")
    EMPLOYER = "employer", _("Employer benefit")


class Urgency(models.TextChoices):
    ROUTINE = "routine", _("Routine")
    URGENT = "urgent", _("Urgent")
    STAT = "stat", _("STAT")


class Delivery(models.TextChoices):
    WRITTEN = "written", _("Written")
    VIDEO = "video", _("Video")
    PHONE = "phone", _("Phone")
    IN_PERSON = "in_person", _("In person")


class Sex(models.TextChoices):
    FEMALE = "female", _("Female")
    MALE = "male", _("Male")
    OTHER = "other", _("Other")
    UNKNOWN = "unknown", _("Unknown")


class ConsentScope(models.TextChoices):
    OBTAIN_RECORDS = "obtain_records", _("Obtain my medical records from my providers")
    SHARE_WITH_REVIEWERS = "share_with_reviewers", _("Share my records with the reviewing specialists")
    SHARE_REPORT = "share_report", _("Send the opinion to my treating physician")


class SignerRelationship(models.TextChoices):
    """Who signs the HIPAA authorization, as they relate to the patient (cases.signers says who may pick which)."""

    SELF = "self", _("I am the patient")
    PARENT = "parent", _("Parent")
    GUARDIAN = "guardian", _("Legal guardian")
    REPRESENTATIVE = "representative", _("Personal representative")
    OTHER = "other", _("Other")
    TREATING_CLINICIAN = "treating_clinician", _(
        "Treating clinician, referring for treatment with the patient's agreement")


class MessageKind(models.TextChoices):
    MESSAGE = "message", _("Message")
    INFO_REQUEST = "info_request", _("Information request")
    INFO_RESPONSE = "info_response", _("Information provided")
    FOLLOW_UP = "follow_up", _("Follow-up question")


class OfferStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    ACCEPTED = "accepted", _("Accepted")
    DECLINED = "declined", _("Declined")
    WITHDRAWN = "withdrawn", _("Withdrawn")
    EXPIRED = "expired", _("Timed out")


LANGUAGE_CHOICES = [("en", _("English")), ("es", _("Spanish")), ("ja", _("Japanese")), ("zh", _("Chinese")),
                    ("vi", _("Vietnamese")), ("ko", _("Korean")), ("fr", _("French")), ("de", _("German")),
                    ("ar", _("Arabic")), ("ru", _("Russian")), ("pt", _("Portuguese")), ("hi", _("Hindi")),
                    ("tl", _("Tagalog"))]

US_STATES = [
    "AL", "AK", "AZ", "AR", "CA", "CO", "CT", "DE", "DC", "FL", "GA", "HI", "ID", "IL", "IN", "IA", "KS", "KY",
    "LA", "ME", "MD", "MA", "MI", "MN", "MS", "MO", "MT", "NE", "NV", "NH", "NJ", "NM", "NY", "NC", "ND", "OH",
    "OK", "OR", "PA", "RI", "SC", "SD", "TN", "TX", "UT", "VT", "VA", "WA", "WV", "WI", "WY", "PR", "GU", "VI",
    "AS", "MP",
]
STATE_CHOICES = [(s, s) for s in US_STATES]

# ISO 3166-1 alpha-2 codes and their English short names (shown with the code: "MX · Mexico").
COUNTRIES = (
    "AD Andorra|AE United Arab Emirates|AF Afghanistan|AG Antigua and Barbuda|AL Albania|AM Armenia|AO Angola|"
    "AR Argentina|AT Austria|AU Australia|AZ Azerbaijan|BA Bosnia and Herzegovina|BB Barbados|BD Bangladesh|"
    "BE Belgium|BF Burkina Faso|BG Bulgaria|BH Bahrain|BI Burundi|BJ Benin|BN Brunei|BO Bolivia|BR Brazil|"
    "BS Bahamas|BT Bhutan|BW Botswana|BY Belarus|BZ Belize|CA Canada|CD Congo (Democratic Republic)|"
    "CF Central African Republic|CG Congo|CH Switzerland|CI Côte d'Ivoire|CL Chile|CM Cameroon|CN China|"
    "CO Colombia|CR Costa Rica|CU Cuba|CV Cabo Verde|CY Cyprus|CZ Czechia|DE Germany|DJ Djibouti|DK Denmark|"
    "DM Dominica|DO Dominican Republic|DZ Algeria|EC Ecuador|EE Estonia|EG Egypt|ER Eritrea|ES Spain|"
    "ET Ethiopia|FI Finland|FJ Fiji|FM Micronesia|FR France|GA Gabon|GB United Kingdom|GD Grenada|GE Georgia|"
    "GH Ghana|GM Gambia|GN Guinea|GQ Equatorial Guinea|GR Greece|GT Guatemala|GW Guinea-Bissau|GY Guyana|"
    "HK Hong Kong|HN Honduras|HR Croatia|HT Haiti|HU Hungary|ID Indonesia|IE Ireland|IL Israel|IN India|"
    "IQ Iraq|IR Iran|IS Iceland|IT Italy|JM Jamaica|JO Jordan|JP Japan|KE Kenya|KG Kyrgyzstan|KH Cambodia|"
    "KI Kiribati|KM Comoros|KN Saint Kitts and Nevis|KP Korea (North)|KR Korea (South)|KW Kuwait|KZ Kazakhstan|"
    "LA Laos|LB Lebanon|LC Saint Lucia|LI Liechtenstein|LK Sri Lanka|LR Liberia|LS Lesotho|LT Lithuania|"
    "LU Luxembourg|LV Latvia|LY Libya|MA Morocco|MC Monaco|MD Moldova|ME Montenegro|MG Madagascar|"
    "MH Marshall Islands|MK North Macedonia|ML Mali|MM Myanmar|MN Mongolia|MO Macao|MR Mauritania|MT Malta|"
    "MU Mauritius|MV Maldives|MW Malawi|MX Mexico|MY Malaysia|MZ Mozambique|NA Namibia|NE Niger|NG Nigeria|"
    "NI Nicaragua|NL Netherlands|NO Norway|NP Nepal|NR Nauru|NZ New Zealand|OM Oman|PA Panama|PE Peru|"
    "PG Papua New Guinea|PH Philippines|PK Pakistan|PL Poland|PS Palestine|PT Portugal|PW Palau|PY Paraguay|"
    "QA Qatar|RO Romania|RS Serbia|RU Russia|RW Rwanda|SA Saudi Arabia|SB Solomon Islands|SC Seychelles|"
    "SD Sudan|SE Sweden|SG Singapore|SI Slovenia|SK Slovakia|SL Sierra Leone|SM San Marino|SN Senegal|"
    "SO Somalia|SR Suriname|SS South Sudan|ST Sao Tome and Principe|SV El Salvador|SY Syria|SZ Eswatini|"
    "TD Chad|TG Togo|TH Thailand|TJ Tajikistan|TL Timor-Leste|TM Turkmenistan|TN Tunisia|TO Tonga|TR Türkiye|"
    "TT Trinidad and Tobago|TV Tuvalu|TW Taiwan|TZ Tanzania|UA Ukraine|UG Uganda|US United States|UY Uruguay|"
    "UZ Uzbekistan|VA Holy See|VC Saint Vincent and the Grenadines|VE Venezuela|VN Viet Nam|VU Vanuatu|"
    "WS Samoa|YE Yemen|ZA South Africa|ZM Zambia|ZW Zimbabwe"
)
COUNTRY_CHOICES = [(item[:2], f"{item[3:]}") for item in COUNTRIES.split("|")]
COUNTRY_CODES = frozenset(code for code, _name in COUNTRY_CHOICES)


def country_choices() -> list[tuple[str, str]]:
    """COUNTRY_CHOICES named in the reader's language (Unicode CLDR, through Babel) and sorted by that name."""
    from konsil.core.context import reader_language

    return list(_countries_in(reader_language()))


def place_name(state: str, country: str) -> str:
    """"California, United States" ("California, Estados Unidos" in Spanish): a US state by its name, the
    country in the reader's language (Unicode CLDR), not the codes "CA, US"."""
    from konsil.core.context import reader_language

    countries = dict(_countries_in(reader_language()))
    parts = [STATE_NAMES.get(state, state) if state else "", countries.get(country, country) if country else ""]
    return ", ".join(part for part in parts if part)


@lru_cache(maxsize=16)
def _countries_in(language: str) -> tuple[tuple[str, str], ...]:
    from babel import Locale, UnknownLocaleError

    try:
        names = Locale.parse(language).territories
    except (UnknownLocaleError, ValueError):
        names = {}
    rows = [(code, names.get(code) or english) for code, english in COUNTRY_CHOICES]

    def key(row):  # "Åland" with the A's, "Émirats" with the E's
        return "".join(c for c in unicodedata.normalize("NFKD", row[1].casefold()) if not unicodedata.combining(c))

    return tuple(sorted(rows, key=key))

STATE_NAMES = {
    "AL": "Alabama", "AK": "Alaska", "AZ": "Arizona", "AR": "Arkansas", "CA": "California", "CO": "Colorado",
    "CT": "Connecticut", "DE": "Delaware", "DC": "District of Columbia", "FL": "Florida", "GA": "Georgia",
    "HI": "Hawaii", "ID": "Idaho", "IL": "Illinois", "IN": "Indiana", "IA": "Iowa", "KS": "Kansas",
    "KY": "Kentucky", "LA": "Louisiana", "ME": "Maine", "MD": "Maryland", "MA": "Massachusetts", "MI": "Michigan",
    "MN": "Minnesota", "MS": "Mississippi", "MO": "Missouri", "MT": "Montana", "NE": "Nebraska", "NV": "Nevada",
    "NH": "New Hampshire", "NJ": "New Jersey", "NM": "New Mexico", "NY": "New York", "NC": "North Carolina",
    "ND": "North Dakota", "OH": "Ohio", "OK": "Oklahoma", "OR": "Oregon", "PA": "Pennsylvania",
    "RI": "Rhode Island", "SC": "South Carolina", "SD": "South Dakota", "TN": "Tennessee", "TX": "Texas",
    "UT": "Utah", "VT": "Vermont", "VA": "Virginia", "WA": "Washington", "WV": "West Virginia",
    "WI": "Wisconsin", "WY": "Wyoming", "PR": "Puerto Rico", "GU": "Guam", "VI": "U.S. Virgin Islands",
    "AS": "American Samoa", "MP": "Northern Mariana Islands",
}
STATE_NAMED_CHOICES = sorted(((code, f"{name} ({code})") for code, name in STATE_NAMES.items()),
                             key=lambda pair: pair[1])
