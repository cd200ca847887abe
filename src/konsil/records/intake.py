"""Records intake: every write of an arriving file. Stored encrypted first, processed in the background after.

Resumable uploads follow the tus protocol (https://tus.io, 1.0.0): `create_upload` opens one, `append_chunk` stores
each chunk encrypted as a part under the upload's data key, and the last chunk turns the parts into a record.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import timedelta

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from konsil.audit.services import emit
from konsil.cases import relations as rel
from konsil.cases.choices import Status
from konsil.cases.models import Attachment, Case
from konsil.core import crypto, files, streams
from konsil.core.errors import Conflict, PermissionDenied, ValidationFailed

from .errors import REASONS
from .models import Upload, UploadStatus

ATTACHABLE = frozenset(Status) - {Status.CLOSED, Status.CANCELLED, Status.WITHDRAWN}
UPLOADERS = rel.CLINICAL_RELATIONS - {rel.OFFERED, rel.SIGNER, rel.PANEL_MEMBER}  # who may add records


def check_can_add(actor, case: Case) -> None:
    """Records may be added by the care team and the patient's side while the case is open."""
    if case.status not in ATTACHABLE:
        raise Conflict(_("This case is closed to new documents."))
    if not rel.relations(actor, case) & UPLOADERS:
        raise PermissionDenied(_("You may not add documents to this case."))


def _clean_name(name: str) -> str:
    return ((name or "").replace("\\", "/").rsplit("/", 1)[-1].strip() or "document")[:200]


def find_duplicate(case: Case, sha256: str) -> Attachment | None:
    """A file with the same content already in the case (top-level records only)."""
    return case.attachments.filter(sha256=sha256, parent__isnull=True).exclude(
        status=Attachment.Processing.FAILED).first()


def store_record(*, actor, case: Case, content: bytes, filename: str, content_type: str = "", description: str = "",
                 batch=None, parent: Attachment | None = None, process: bool = True,
                 status: str = Attachment.Processing.QUEUED, kind: str = "") -> Attachment:
    """Encrypt and store one file for the case and queue it for processing. Nothing is kept if this fails."""
    if not content:
        raise ValidationFailed(REASONS["empty"], field="file", code="empty")
    if len(content) > settings.KONSIL_MAX_STUDY_BYTES:
        raise ValidationFailed(REASONS["too_large"], field="file", code="too_large")
    digest = hashlib.sha256(content).hexdigest()
    if parent is None and find_duplicate(case, digest):
        raise Conflict(REASONS["duplicate"], field="file", code="duplicate")
    attachment = Attachment(case=case, uploaded_by=actor, filename=_clean_name(filename), parent=parent,
                            content_type=(content_type or "application/octet-stream")[:100], kind=kind,
                            description=str(description or "")[:255], batch=batch, status=status)
    stored = files.put_for(attachment, content, sha256=digest)
    try:
        with transaction.atomic():
            attachment.save()
            if parent is None:
                emit(actor=actor, action="attachment.create", obj=attachment, patient_id=case.patient_id,
                     detail={"size": stored.size, "sha256": stored.sha256})
    except BaseException:
        files.delete(stored.name)
        raise
    if process and parent is None:
        from .tasks import enqueue_processing

        enqueue_processing(attachment.pk)
    return attachment


def read_record(*, actor, attachment: Attachment, action: str = "attachment.download") -> bytes:
    """Decrypt a record; the caller got `attachment` through a scoped selector. Audited."""
    content = files.get_for(attachment)
    emit(actor=actor, action=action, obj=attachment, patient_id=attachment.case.patient_id)
    return content


# --- resumable uploads (tus) ----------------------------------------------------------------------------------


def create_upload(*, actor, case: Case, length: int, filename: str, relative_path: str = "",
                  batch: str | None = None) -> Upload:
    """Open a resumable upload of `length` bytes; refuses empty and oversized files and overfull batches."""
    check_can_add(actor, case)
    if length <= 0:
        raise ValidationFailed(REASONS["empty"], field="file", code="empty")
    if length > settings.KONSIL_MAX_STUDY_BYTES:
        raise ValidationFailed(REASONS["too_large"], field="file", code="too_large")
    batch_id = _batch_id(batch)
    if batch_id and not relative_path:  # files picked one by one count; a CD folder counts as one study
        in_batch = Upload.objects.filter(case=case, batch=batch_id, relative_path="").count()
        if in_batch >= settings.KONSIL_MAX_BATCH_FILES:
            raise ValidationFailed(REASONS["too_many_files"], field="file", code="too_many_files")
    wrapped, key_id = crypto.wrap_key(AESGCM.generate_key(bit_length=256))
    upload = Upload.objects.create(
        case=case, created_by=actor, length=length, filename=_clean_name(filename),
        relative_path=(relative_path or "")[:500], batch=batch_id, wrapped_key=wrapped, key_id=key_id,
        expires_at=timezone.now() + timedelta(hours=settings.KONSIL_UPLOAD_EXPIRY_HOURS))
    emit(actor=actor, action="upload.create", obj=upload, patient_id=case.patient_id, detail={"length": length})
    return upload


def _batch_id(batch: str | None):
    if not batch:
        return None
    try:
        return uuid.UUID(str(batch))
    except ValueError:
        raise ValidationFailed(_("The upload batch is not valid."), field="batch") from None


def _part_aead(upload: Upload) -> AESGCM:
    return AESGCM(crypto.unwrap_key(bytes(upload.wrapped_key), upload.key_id))


def append_chunk(*, actor, upload: Upload, offset: int, chunk: bytes) -> Upload:
    """Store the chunk at `offset` (it must equal the upload's offset); the last chunk completes the upload."""
    if upload.status != UploadStatus.RECEIVING:
        raise Conflict(_("This upload is finished."), code="upload_closed")
    if upload.expires_at <= timezone.now():
        raise Conflict(_("This upload expired; start it again."), code="upload_expired")
    check_can_add(actor, upload.case)  # the case may have closed, or the actor lost access, since it began
    if offset != upload.offset:
        raise Conflict(_("The upload offset does not match; resume from the server's offset."), field="offset",
                       code="offset_mismatch")
    if not chunk:
        return upload  # a 0-byte chunk changes nothing
    if upload.offset + len(chunk) > upload.length:
        raise ValidationFailed(_("The upload is longer than announced."), field="file", code="too_large")
    aad = f"{upload.pk}:{len(upload.parts)}".encode()
    name = files.save_raw(crypto.seal(_part_aead(upload), chunk, aad))
    try:
        with transaction.atomic():
            locked = Upload.objects.select_for_update().get(pk=upload.pk)
            if locked.offset != offset or locked.status != UploadStatus.RECEIVING:  # a concurrent request won
                raise Conflict(_("The upload offset does not match; resume from the server's offset."),
                               field="offset", code="offset_mismatch")
            locked.parts = [*locked.parts, {"name": name, "size": len(chunk)}]
            locked.offset += len(chunk)
            locked.save(update_fields=["parts", "offset", "updated_at"])
    except BaseException:  # the part was not recorded: its object goes too
        files.delete(name)
        raise
    if locked.offset == locked.length:
        return finish_upload(actor=actor, upload=locked)
    return locked


def _plain_parts(upload: Upload):
    """The upload's chunks in order, decrypted one at a time."""
    aead = _part_aead(upload)
    for index, part in enumerate(upload.parts):
        yield crypto.unseal(aead, files.raw(part["name"]), f"{upload.pk}:{index}".encode())


def store_stream(*, actor, case: Case, chunks, filename: str, batch=None) -> Attachment:
    """Like store_record for a file that arrives in pieces: encrypted as a stream (one segment in memory),
    checked for emptiness and duplicates once its digest is known, then queued for processing."""
    attachment = Attachment(case=case, uploaded_by=actor, filename=_clean_name(filename), batch=batch,
                            content_type="application/octet-stream", status=Attachment.Processing.QUEUED)
    stored = streams.write_for(attachment, chunks)
    try:
        if not stored.size:
            raise ValidationFailed(REASONS["empty"], field="file", code="empty")
        if find_duplicate(case, stored.sha256):
            raise Conflict(REASONS["duplicate"], field="file", code="duplicate")
        with transaction.atomic():
            attachment.save()
            emit(actor=actor, action="attachment.create", obj=attachment, patient_id=case.patient_id,
                 detail={"size": stored.size, "sha256": stored.sha256})
    except BaseException:
        files.delete(stored.name)
        raise
    from .tasks import enqueue_processing

    enqueue_processing(attachment.pk)
    return attachment


def _drop_parts(upload: Upload) -> None:
    for part in upload.parts:
        files.delete(part["name"])


def finish_upload(*, actor, upload: Upload) -> Upload:
    """Turn the received parts into a stored record (queued for processing); the parts are removed."""
    try:
        attachment = store_stream(actor=actor, case=upload.case, chunks=_plain_parts(upload),
                                  filename=upload.filename, batch=upload.batch)
    except BaseException as exc:  # refused, or storage failed: nothing of the upload is kept, it must be resent
        _drop_parts(upload)
        Upload.objects.filter(pk=upload.pk).update(status=UploadStatus.CANCELLED, parts=[])
        if isinstance(exc, (files.IntegrityError, crypto.DecryptionError, OSError)):
            raise Conflict(_("The upload could not be stored; send the file again."), code="upload_failed") from exc
        raise
    _drop_parts(upload)
    upload.status, upload.parts, upload.attachment = UploadStatus.COMPLETE, [], attachment
    upload.save(update_fields=["status", "parts", "attachment", "updated_at"])
    return upload


def cancel_upload(*, actor, upload: Upload) -> None:
    """tus termination: the parts are deleted at once."""
    _drop_parts(upload)
    Upload.objects.filter(pk=upload.pk).update(status=UploadStatus.CANCELLED, parts=[])
    emit(actor=actor, action="upload.cancel", obj=upload, patient_id=upload.case.patient_id)


def purge_expired_uploads(now=None) -> int:
    """Delete the parts of uploads nobody finished in time (run by the worker's housekeeping)."""
    expired = Upload.objects.filter(status=UploadStatus.RECEIVING, expires_at__lte=now or timezone.now())
    count = 0
    for upload in expired:
        _drop_parts(upload)
        upload.status, upload.parts = UploadStatus.CANCELLED, []
        upload.save(update_fields=["status", "parts", "updated_at"])
        count += 1
    return count
