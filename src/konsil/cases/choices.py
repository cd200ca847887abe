"""Enumerations of the case domain."""

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
