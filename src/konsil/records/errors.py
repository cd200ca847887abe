"""Why a record was not accepted: a stable code for machines and a sentence a patient understands."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

REASONS = {
    "empty": _("The file is empty."),
    "too_large": _("The file is larger than the limit for one upload."),
    "too_many_files": _("Too many files in one upload; send the rest in another batch."),
    "unsupported_type": _("This kind of file is not accepted. Send PDF, JPEG/PNG photos, DICOM images, "
                          "a zipped CD or USB export, FHIR JSON or plain text."),
    "duplicate": _("This file was already uploaded to this case."),
    "dicom_corrupt": _("This DICOM image is damaged or incomplete and cannot be read."),
    "dicom_not_dicom": _("This file is named like a DICOM image but is not one."),
    "dicom_unsupported_syntax": _("This DICOM image uses a compression Konsil cannot read yet."),
    "dicom_no_pixels": _("This DICOM file holds no image."),
    "zip_corrupt": _("This zip archive is damaged and cannot be opened."),
    "zip_bomb": _("This zip archive expands to far more data than it holds; it was not opened."),
    "zip_too_large": _("This zip archive expands beyond the size limit."),
    "zip_unsafe_path": _("This zip archive contains entries with unsafe paths or links; they were skipped."),
    "zip_encrypted": _("This zip archive is password-protected; send it without a password."),
    "zip_empty": _("This zip archive holds no medical records Konsil can read."),
    "pdf_encrypted": _("This PDF is password-protected; send it without a password."),
    "pdf_corrupt": _("This PDF is damaged or is not really a PDF."),
    "image_corrupt": _("This photo is damaged and cannot be opened."),
    "fhir_invalid_json": _("This file is not valid JSON."),
    "fhir_invalid": _("This JSON file is not a FHIR R4 resource or Bundle."),
    "text_encoding": _("This text file is not in a readable text encoding."),
    "integrity": _("The stored file failed its integrity check."),
    "processing": _("Konsil could not process this file. Our team has been told."),
}

# Why a pull from a hospital PACS (records.retrieve) did not bring the study, shown with the job.
RETRIEVE_ERRORS = {
    "pacs_unavailable": _("The hospital's PACS could not be reached; try again later or ask its administrator."),
    "pacs_refused": _("The hospital's PACS refused to send this study; check that it still holds it."),
    "nothing_retrieved": _("The hospital's PACS sent no images for this study."),
}


class RecordRejected(Exception):
    """A file (or an entry inside one) that cannot be accepted, with a reason code from REASONS."""

    def __init__(self, code: str, detail: str = ""):
        if code not in REASONS:
            raise ValueError(f"unknown rejection code {code!r}")
        self.code = code
        self.detail = detail  # technical detail for logs; never PHI
        super().__init__(f"{code}: {detail}" if detail else code)

    @property
    def message(self) -> str:
        return str(REASONS[self.code])
