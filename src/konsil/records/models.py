"""Records still missing from a case, requested from an outside facility (the records issue deepens this)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from konsil.core.models import BaseModel


class RequestMethod(models.TextChoices):
    FAX = "fax", _("Fax")
    EMAIL = "email", _("Email")
    PORTAL = "portal", _("Patient portal")
    PATIENT = "patient", _("Ask the patient to upload")


class RequestStatus(models.TextChoices):
    REQUESTED = "requested", _("Requested")
    RECEIVED = "received", _("Received")
    CANCELLED = "cancelled", _("Cancelled")


class RecordsRequest(BaseModel):
    case = models.ForeignKey("cases.Case", on_delete=models.CASCADE, related_name="records_requests")
    item = models.CharField(_("item"), max_length=64)  # checklist item code, e.g. "echo_report"
    label = models.CharField(_("what"), max_length=200)
    facility = models.CharField(_("from whom"), max_length=200, blank=True)
    method = models.CharField(_("how"), max_length=12, choices=RequestMethod.choices, default=RequestMethod.PATIENT)
    destination = models.CharField(_("fax number, email or portal"), max_length=200, blank=True)
    status = models.CharField(_("status"), max_length=12, choices=RequestStatus.choices,
                              default=RequestStatus.REQUESTED)
    due_on = models.DateField(_("due on"))
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    received_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["due_on", "created_at"]
        constraints = [models.UniqueConstraint(
            fields=["case", "item"], condition=models.Q(status="requested"), name="one_open_request_per_item")]

    @property
    def overdue(self) -> bool:
        return self.status == RequestStatus.REQUESTED and self.due_on < timezone.localdate()
