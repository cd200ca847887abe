"""Append-only, hash-chained audit events (shaped after FHIR AuditEvent)."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class Outcome(models.TextChoices):
    SUCCESS = "success", _("Success")
    DENIED = "denied", _("Denied")
    FAILURE = "failure", _("Failure")


class AuditQuerySet(models.QuerySet):
    """Bulk changes are refused like single ones: the trail only grows (the database refuses them too)."""

    def update(self, **kwargs):
        raise RuntimeError("audit events are append-only")

    def delete(self):
        raise RuntimeError("audit events are append-only")

    def bulk_update(self, objs, fields, batch_size=None):
        raise RuntimeError("audit events are append-only")

    def update_or_create(self, *args, **kwargs):
        raise RuntimeError("audit events are append-only")

    update.queryset_only = delete.queryset_only = True


class Alg(models.TextChoices):
    HMAC = "hmac-sha256", "HMAC-SHA-256"
    LEGACY = "sha256", "SHA-256 (unkeyed, before 2026-12)"


class EventContent(models.Model):
    """What an event says (who, what, which patient, outcome, when, from where); no chain fields."""

    occurred_at = models.DateTimeField(db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.DO_NOTHING, related_name="+",
        db_constraint=False,
    )
    actor_label = models.CharField(max_length=254, blank=True)
    role = models.CharField(max_length=32, blank=True)
    action = models.CharField(max_length=64)  # e.g. case.read, case.transition.submit, attachment.download
    object_type = models.CharField(max_length=64, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    patient_id = models.UUIDField(null=True, blank=True, db_index=True)
    purpose = models.CharField(max_length=32, default="treatment")  # FHIR PurposeOfUse: TREAT, HOPERAT...
    outcome = models.CharField(max_length=16, choices=Outcome.choices, default=Outcome.SUCCESS)
    ip = models.GenericIPAddressField(null=True, blank=True)
    channel = models.CharField(max_length=16, blank=True)
    detail = models.JSONField(default=dict, blank=True)

    class Meta:
        abstract = True


class AuditEvent(EventContent):
    """One chained event. `seq` is gap-free; `hash` = HMAC-SHA-256(audit key, prev_hash + canonical content).

    Events written before the chain was keyed carry alg "sha256" (plain SHA-256); none may follow a keyed one.
    """

    seq = models.BigIntegerField(primary_key=True)
    id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64, unique=True)
    alg = models.CharField(max_length=16, choices=Alg.choices, default=Alg.HMAC)

    objects = AuditQuerySet.as_manager()

    class Meta:
        ordering = ["seq"]
        base_manager_name = "objects"
        indexes = [models.Index(fields=["object_type", "object_id"])]

    def __str__(self) -> str:
        return f"#{self.seq} {self.action}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise RuntimeError("audit events are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise RuntimeError("audit events are append-only")


class PendingEvent(EventContent):
    """An event written by a business transaction, waiting for the sequencer to chain it (services.seal).

    Business transactions only insert these rows (no lock); the sequencer moves them into the chain under a
    short lock on the head right after the commit. `mac` (HMAC of the content under the audit key) catches an
    edit made while an event waits.
    """

    pos = models.BigAutoField(primary_key=True)
    id = models.UUIDField(unique=True, editable=False)
    mac = models.CharField(max_length=64)
    occurred_at = models.DateTimeField()  # a short-lived row: no index to maintain beyond its key
    patient_id = models.UUIDField(null=True, blank=True)

    def __str__(self) -> str:
        return f"pending {self.pos} {self.action}"


class ChainHead(models.Model):
    """A single row serializing appends: the last sequence number and hash."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    seq = models.BigIntegerField(default=0)
    hash = models.CharField(max_length=64, default="0" * 64)

    def __str__(self) -> str:
        return f"head #{self.seq}"
