"""Live consults after the report: a booked slot with a specialist (video, phone or in person), who is invited,
the embedded room's signalling messages and the specialist's consult notes."""

from __future__ import annotations

import secrets

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from konsil.core.fields import EncryptedTextField
from konsil.core.models import BaseModel

USER = settings.AUTH_USER_MODEL


def new_room_id() -> str:
    """The room's name (embedded room and Jitsi): random, never the case reference or a name."""
    return secrets.token_urlsafe(18)


class Mode(models.TextChoices):
    VIDEO = "video", _("Video")
    PHONE = "phone", _("Phone")
    IN_PERSON = "in_person", _("In person")


def live_modes(specialist) -> list[str]:
    """The live consult modes `specialist` offers (a written-only specialist offers none)."""
    return [m for m in (getattr(specialist, "delivery_modes", None) or []) if m in Mode.values]


class ConsultStatus(models.TextChoices):
    BOOKED = "booked", _("Booked")
    COMPLETED = "completed", _("Held")
    CANCELLED = "cancelled", _("Cancelled")
    LATE_CANCELLED = "late_cancelled", _("Cancelled late")
    NO_SHOW = "no_show", _("Missed (no-show)")


class Party(models.TextChoices):
    PATIENT = "patient", _("Patient side")
    SPECIALIST = "specialist", _("Specialist")


class Consult(BaseModel):
    """One live consult of a case with its specialist. Times are stored in UTC; each side reads them in its own
    time zone (`patient_time_zone`, the specialist's directory time zone)."""

    case = models.ForeignKey("cases.Case", on_delete=models.CASCADE, related_name="consults")
    specialist = models.ForeignKey("matching.Specialist", on_delete=models.PROTECT, related_name="consults")
    booked_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    mode = models.CharField(_("mode"), max_length=12, choices=Mode.choices)
    starts_at = models.DateTimeField(_("starts at"))
    ends_at = models.DateTimeField(_("ends at"))
    patient_time_zone = models.CharField(_("your time zone"), max_length=64, default="UTC")
    status = models.CharField(_("status"), max_length=16, choices=ConsultStatus.choices,
                              default=ConsultStatus.BOOKED)
    video_engine = models.CharField(max_length=12, blank=True)  # "embedded" | "jitsi" (video only)
    room_id = models.CharField(max_length=32, unique=True, default=new_room_id)
    patient_phone = EncryptedTextField(_("number to call"), blank=True)
    specialist_phone = EncryptedTextField(_("specialist's number"), blank=True)
    call_window_minutes = models.PositiveSmallIntegerField(_("call window (minutes)"), default=15)
    location = models.CharField(_("location"), max_length=200, blank=True)
    invite_treating_physician = models.BooleanField(_("invite the treating physician"), default=False)
    interpreter_language = models.CharField(_("interpreter language"), max_length=8, blank=True)
    interpreter_email = EncryptedTextField(_("interpreter email"), blank=True)
    sequence = models.PositiveSmallIntegerField(default=0)  # iCalendar SEQUENCE: bumped on every change
    reminded_at = models.DateTimeField(null=True, blank=True)
    rescheduled_count = models.PositiveSmallIntegerField(default=0)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    cancelled_by = models.ForeignKey(USER, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    cancel_reason = models.CharField(_("reason"), max_length=300, blank=True)
    no_show_party = models.CharField(_("who did not come"), max_length=12, choices=Party.choices, blank=True)
    held_at = models.DateTimeField(null=True, blank=True)
    recorded_by = models.ForeignKey(USER, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["-starts_at"]
        indexes = [models.Index(fields=["specialist", "status", "starts_at"]),
                   models.Index(fields=["status", "starts_at"])]
        constraints = [
            # A second booking of the same specialist at the same start is refused by the database too.
            models.UniqueConstraint(fields=["specialist", "starts_at"], condition=models.Q(status="booked"),
                                    name="one_booking_per_specialist_slot"),
            models.CheckConstraint(condition=models.Q(ends_at__gt=models.F("starts_at")),
                                   name="consult_ends_after_start"),
        ]

    def __str__(self) -> str:
        return f"{self.case} {self.mode} {self.starts_at:%Y-%m-%d %H:%M}"

    @property
    def is_open(self) -> bool:
        return self.status == ConsultStatus.BOOKED


class Signal(models.Model):
    """One signalling message of the embedded WebRTC room (SDP offer/answer, ICE candidate, hang-up), relayed
    from one party to the other by polling; deleted when the consult ends. Ordered by the auto id."""

    class Kind(models.TextChoices):
        HELLO = "hello", "hello"
        OFFER = "offer", "offer"
        ANSWER = "answer", "answer"
        CANDIDATE = "candidate", "candidate"
        BYE = "bye", "bye"

    id = models.BigAutoField(primary_key=True)
    consult = models.ForeignKey(Consult, on_delete=models.CASCADE, related_name="signals")
    sender = models.CharField(max_length=12, choices=Party.choices)
    kind = models.CharField(max_length=12, choices=Kind.choices)
    payload = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["consult", "id"])]

    def __str__(self) -> str:
        return f"{self.kind} from {self.sender}"


class ConsultNote(BaseModel):
    """What the specialist wrote during or after a consult (kept as written; a later note adds to it)."""

    consult = models.ForeignKey(Consult, on_delete=models.CASCADE, related_name="notes")
    case = models.ForeignKey("cases.Case", on_delete=models.CASCADE, related_name="consult_notes")
    author = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    body = EncryptedTextField(_("consult notes"))
    opinion_changed = models.BooleanField(_("the opinion changes"), default=False)

    class Meta:
        ordering = ["created_at"]


class EventKind(models.TextChoices):
    BOOKED = "booked", _("Consult booked")
    MOVED = "moved", _("Consult moved")
    CANCELLED = "cancelled", _("Consult cancelled")
    LATE_CANCELLED = "late_cancelled", _("Consult cancelled late")
    NO_SHOW = "no_show", _("Consult missed (no-show)")
    HELD = "held", _("Consult held")
    NOTE = "note", _("Consult notes written")


class ConsultEvent(BaseModel):
    """One step of a consult for the case timeline (booked, moved, cancelled, no-show, held, notes). Written by the
    services in the same transaction as the change; holds no contact details and no note text (minimum necessary:
    the timeline is read by everyone allowed to see the case's consults)."""

    consult = models.ForeignKey(Consult, on_delete=models.CASCADE, related_name="events")
    case = models.ForeignKey("cases.Case", on_delete=models.CASCADE, related_name="consult_events")
    kind = models.CharField(max_length=16, choices=EventKind.choices)
    actor = models.ForeignKey(USER, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    role = models.CharField(max_length=32, blank=True)
    mode = models.CharField(max_length=12, choices=Mode.choices)
    starts_at = models.DateTimeField()  # the consult's time after this step
    party = models.CharField(max_length=12, choices=Party.choices, blank=True)  # who cancelled / did not come
    opinion_changed = models.BooleanField(default=False)

    class Meta:
        ordering = ["created_at"]
        indexes = [models.Index(fields=["case", "created_at"])]
