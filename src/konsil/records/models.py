"""Records: requests to outside facilities, uploads in progress, what is read out of files, and the imaging index."""

from __future__ import annotations

import secrets

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from konsil.core.fields import EncryptedTextField
from konsil.core.models import BaseModel


def new_accession_number() -> str:
    """An accession number for a records request (DICOM SH, at most 16 characters): KA + 10 random characters."""
    return "KA" + "".join(secrets.choice("ABCDEFGHJKLMNPQRSTUVWXYZ23456789") for _ in range(10))


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
    # The patient's signed HIPAA authorization that goes with a request to an outside facility: an uploaded
    # signed form, or (when none is attached) the case's e-signed consent with the "obtain records" scope.
    authorization = models.ForeignKey("cases.Attachment", null=True, blank=True, on_delete=models.PROTECT,
                                      related_name="+")
    reminders_sent = models.PositiveIntegerField(default=0)
    last_reminded_at = models.DateTimeField(null=True, blank=True)
    # Issued with every request: a PACS that puts it in AccessionNumber routes the study it pushes to this case.
    accession_number = models.CharField(_("accession number"), max_length=16, unique=True, null=True,
                                        blank=True, default=new_accession_number)

    class Meta:
        ordering = ["due_on", "created_at"]
        constraints = [models.UniqueConstraint(
            fields=["case", "item"], condition=models.Q(status="requested"), name="one_open_request_per_item")]

    @property
    def outside(self) -> bool:
        """Asked of a facility (fax, email, portal) rather than of the patient."""
        return self.method != RequestMethod.PATIENT

    @property
    def overdue(self) -> bool:
        return self.status == RequestStatus.REQUESTED and self.due_on < timezone.localdate()


# --- files as they arrive, and what Konsil reads out of them ---------------------------------------------------


class StoredMixin(models.Model):
    """An encrypted object in storage: random name, wrapped data key, plaintext SHA-256 (checked on read)."""

    storage_name = models.CharField(max_length=200, unique=True)
    wrapped_key = models.BinaryField()
    key_id = models.CharField(max_length=32)
    size = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64)

    class Meta:
        abstract = True


class UploadStatus(models.TextChoices):
    RECEIVING = "receiving", _("Receiving")
    COMPLETE = "complete", _("Complete")
    CANCELLED = "cancelled", _("Cancelled")


class Upload(BaseModel):
    """A resumable (tus) upload in progress; each received chunk is stored encrypted as a part."""

    case = models.ForeignKey("cases.Case", on_delete=models.CASCADE, related_name="uploads")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    length = models.PositiveBigIntegerField()
    offset = models.PositiveBigIntegerField(default=0)
    filename = EncryptedTextField(blank=True)
    relative_path = EncryptedTextField(blank=True)
    batch = models.UUIDField(null=True, blank=True)
    parts = models.JSONField(default=list)  # [{"name": storage name, "size": n}], in order
    wrapped_key = models.BinaryField()
    key_id = models.CharField(max_length=32)
    status = models.CharField(max_length=12, choices=UploadStatus.choices, default=UploadStatus.RECEIVING)
    attachment = models.OneToOneField("cases.Attachment", null=True, blank=True, on_delete=models.SET_NULL,
                                      related_name="upload")
    expires_at = models.DateTimeField()

    class Meta:
        ordering = ["created_at"]


class Derivative(StoredMixin, BaseModel):
    """Something read out of a record, stored encrypted like the record: text, a summary, a thumbnail."""

    class Kind(models.TextChoices):
        TEXT = "text", _("Extracted text")
        SUMMARY = "summary", _("Clinical summary")
        THUMBNAIL = "thumbnail", _("Thumbnail")

    attachment = models.ForeignKey("cases.Attachment", on_delete=models.CASCADE, related_name="derivatives")
    kind = models.CharField(max_length=12, choices=Kind.choices)
    index = models.PositiveIntegerField(default=0)  # page number for page thumbnails

    class Meta:
        ordering = ["kind", "index"]
        constraints = [models.UniqueConstraint(fields=["attachment", "kind", "index"], name="one_derivative_each")]

    def __str__(self) -> str:
        return f"{self.kind} {self.index} of {self.attachment_id}"


class Study(BaseModel):
    """A DICOM study of a case. No patient names here; the viewer reads them from the encrypted files."""

    case = models.ForeignKey("cases.Case", on_delete=models.CASCADE, related_name="studies")
    study_uid = models.CharField(max_length=64)
    study_date = models.DateField(null=True, blank=True)
    description = EncryptedTextField(blank=True)
    modalities = models.CharField(max_length=64, blank=True)
    accession_number = models.CharField(max_length=16, blank=True)

    class Meta:
        ordering = ["-study_date", "created_at"]
        constraints = [models.UniqueConstraint(fields=["case", "study_uid"], name="one_study_per_uid_per_case")]


class Series(BaseModel):
    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="series")
    series_uid = models.CharField(max_length=64)
    number = models.IntegerField(null=True, blank=True)
    modality = models.CharField(max_length=16, blank=True)
    body_part = models.CharField(max_length=64, blank=True)
    description = EncryptedTextField(blank=True)
    instance_count = models.PositiveIntegerField(default=0)
    frame_count = models.PositiveIntegerField(default=0)
    thumbnail = models.ForeignKey(Derivative, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["number", "created_at"]
        constraints = [models.UniqueConstraint(fields=["study", "series_uid"], name="one_series_per_uid")]


class Instance(BaseModel):
    series = models.ForeignKey(Series, on_delete=models.CASCADE, related_name="instances")
    attachment = models.OneToOneField("cases.Attachment", on_delete=models.CASCADE, related_name="instance")
    sop_uid = models.CharField(max_length=64)
    sop_class_uid = models.CharField(max_length=64)
    number = models.IntegerField(null=True, blank=True)
    position = models.FloatField(null=True, blank=True)
    frames = models.PositiveIntegerField(default=1)
    rows = models.PositiveIntegerField(default=0)
    columns = models.PositiveIntegerField(default=0)
    transfer_syntax_uid = models.CharField(max_length=64, blank=True)
    has_pixels = models.BooleanField(default=True)
    burned_in_annotation = models.BooleanField(null=True)

    class Meta:
        ordering = ["position", "number", "sop_uid"]
        constraints = [models.UniqueConstraint(fields=["series", "sop_uid"], name="one_instance_per_uid")]


class InboundStudy(BaseModel):
    """A study a PACS pushed over DICOM (C-STORE) that no case claimed: its instances held encrypted (as parts,
    under one data key) until a coordinator attaches it to a case or rejects it. Identity fields are encrypted."""

    class State(models.TextChoices):
        RECEIVING = "receiving", _("Receiving")
        PENDING = "pending", _("Waiting for a coordinator")
        ATTACHED = "attached", _("Attached")
        REJECTED = "rejected", _("Rejected")

    study_uid = models.CharField(max_length=64)
    calling_ae = models.CharField(max_length=16, blank=True)
    address = models.GenericIPAddressField(null=True, blank=True)
    accession_number = EncryptedTextField(blank=True)
    patient_name = EncryptedTextField(blank=True)
    patient_id = EncryptedTextField(blank=True)
    birth_date = models.DateField(null=True, blank=True)
    study_date = models.DateField(null=True, blank=True)
    description = EncryptedTextField(blank=True)
    modalities = models.CharField(max_length=64, blank=True)
    instance_count = models.PositiveIntegerField(default=0)
    size = models.PositiveBigIntegerField(default=0)
    parts = models.JSONField(default=list)  # [{"name": storage name, "size": n, "sop": SOP Instance UID}]
    wrapped_key = models.BinaryField()
    key_id = models.CharField(max_length=32)
    state = models.CharField(max_length=12, choices=State.choices, default=State.PENDING)
    # The network of the calling AE (its DicomNode); only that network's coordinators see the study.
    network = models.ForeignKey("accounts.Organization", null=True, blank=True, on_delete=models.PROTECT,
                                related_name="+")
    case = models.ForeignKey("cases.Case", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]


class DicomNode(BaseModel):
    """A DICOM application entity a network works with: a hospital PACS or modality that pushes to Konsil
    (C-STORE), queries and retrieves from it (C-FIND, C-MOVE, C-GET), or that Konsil queries and retrieves from
    (a source PACS, over DIMSE or DICOMweb). Calling AE titles identify the node, and so the network."""

    class Retrieve(models.TextChoices):
        GET = "get", _("C-GET")
        MOVE = "move", _("C-MOVE to Konsil")
        DICOMWEB = "dicomweb", _("DICOMweb (WADO-RS)")

    network = models.ForeignKey("accounts.Organization", on_delete=models.CASCADE, related_name="dicom_nodes")
    name = models.CharField(_("name"), max_length=120)
    ae_title = models.CharField(_("AE title"), max_length=16, unique=True)
    host = models.CharField(_("host"), max_length=255, blank=True)
    port = models.PositiveIntegerField(_("port"), null=True, blank=True)
    may_store = models.BooleanField(_("may send studies to Konsil"), default=True)
    may_query = models.BooleanField(_("may query and retrieve from Konsil"), default=False)
    is_source = models.BooleanField(_("Konsil may query and retrieve from it"), default=False)
    retrieve = models.CharField(_("retrieve with"), max_length=12, choices=Retrieve.choices, default=Retrieve.GET)
    dicomweb_url = models.URLField(_("DICOMweb base URL"), blank=True)
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.ae_title})"


class RetrieveJob(BaseModel):
    """A study a coordinator pulls from a source PACS into a case, with its progress."""

    class State(models.TextChoices):
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Retrieving")
        DONE = "done", _("Retrieved")
        FAILED = "failed", _("Failed")

    case = models.ForeignKey("cases.Case", on_delete=models.CASCADE, related_name="retrieve_jobs")
    node = models.ForeignKey(DicomNode, on_delete=models.PROTECT, related_name="jobs")
    study_uid = models.CharField(max_length=64)
    method = models.CharField(max_length=12, choices=DicomNode.Retrieve.choices)
    state = models.CharField(max_length=12, choices=State.choices, default=State.QUEUED)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    total = models.PositiveIntegerField(default=0)
    completed = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    error = models.CharField(max_length=64, blank=True)  # a code from errors.RETRIEVE
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["node", "study_uid", "state"])]
