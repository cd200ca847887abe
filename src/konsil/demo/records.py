"""The demo's records: a synthetic chest CT as a zipped CD export and a Synthea FHIR bundle, made the case's own."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

DEMO_CT_SLICES = 64


def demo_records(*, actor, case) -> None:
    """The TAVR case's records, all of its own patient: a CD export (a synthetic chest CT for valve planning,
    DICOMDIR and viewer junk, zipped) and a Synthea FHIR export carried over to the case's patient, with the
    aortic stenosis of the case among its conditions."""
    import io
    import tempfile
    import zipfile
    from pathlib import Path

    from konsil.records import synthetic
    from konsil.records.intake import store_record

    name = f"{case.patient.family_name}^{case.patient.given_name}"
    slices = [_as_chest_ct(raw, level) for level, raw in enumerate(synthetic.ct_series(
        DEMO_CT_SLICES, size=256, patient_name=name, seed=7, birth_date=case.patient.birth_date.strftime("%Y%m%d")))]
    buffer = io.BytesIO()
    with tempfile.TemporaryDirectory() as folder, zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        synthetic.dicomdir_export(slices, Path(folder))
        for path in sorted(Path(folder).rglob("*")):
            if path.is_file():
                zf.write(path, path.relative_to(folder).as_posix())
    store_record(actor=actor, case=case, content=buffer.getvalue(), filename="CD export.zip",
                 description="Chest CT angiography for TAVR planning (synthetic)")
    store_record(actor=actor, case=case, content=_own_fhir_record(case.patient), filename="health-record.json",
                 description="Health record export (FHIR, synthetic)")


# a chest phantom: (x0, y0, a, b, angle, HU), image axes -1..1, y up
_CHEST = ((0.0, 0.0, 0.88, 0.62, 0, 40),  # body (soft tissue)
          (-0.42, 0.05, 0.3, 0.42, 0, -850), (0.42, 0.05, 0.3, 0.42, 0, -850),  # lungs
          (0.08, 0.08, 0.2, 0.17, 20, 200),  # heart, its chambers with contrast
          (0.0, 0.26, 0.05, 0.05, 0, 300),  # ascending aorta with contrast
          (0.03, 0.16, 0.035, 0.035, 0, 650),  # a calcified aortic valve
          (0.0, -0.45, 0.08, 0.08, 0, 700), (0.0, 0.52, 0.06, 0.03, 0, 700))  # spine and sternum


def _as_chest_ct(raw: bytes, level: int) -> bytes:
    """A slice of the synthetic CT made a chest slice: the chest phantom and the headers that say so."""
    import io

    import numpy as np
    import pydicom
    from pydicom.pixels import set_pixel_data

    from konsil.records import synthetic

    ds = pydicom.dcmread(io.BytesIO(raw))
    size = int(ds.Rows)
    grid = (np.arange(size, dtype=np.float32) + 0.5) / size * 2 - 1
    image = np.full((size, size), synthetic.AIR_HU, dtype=np.int16)
    for index, (x0, y0, a, b, angle, hu) in enumerate(_CHEST):
        if index == 5 and abs(level - DEMO_CT_SLICES // 2) > 4:
            continue  # the valve shows on a few slices only
        synthetic._paint_ellipse(image, grid, (x0, y0, a, b, angle), hu)
    set_pixel_data(ds, (image - synthetic.RESCALE_INTERCEPT).astype(np.int16), "MONOCHROME2", 16,
                   generate_instance_uid=False)
    ds.update({"StudyDescription": "CT angiography chest (TAVR planning)", "SeriesDescription": "Chest 1.0 axial",
               "BodyPartExamined": "CHEST"})
    out = io.BytesIO()
    ds.save_as(out, enforce_file_format=True)
    return out.getvalue()


def _own_fhir_record(patient) -> bytes:
    """The Synthea sample bundle carried over to `patient` (name, sex, birth date, state), with aortic stenosis."""
    import gzip
    import json
    from importlib import resources

    raw = resources.files("konsil.records").joinpath("data/demo/synthea-sample.json.gz").read_bytes()
    bundle = json.loads(gzip.decompress(raw))
    subject = None
    for entry in bundle["entry"]:
        resource = entry["resource"]
        if resource["resourceType"] == "Patient":
            subject = entry.get("fullUrl") or f"Patient/{resource['id']}"
            resource.pop("text", None)
            resource["extension"] = [x for x in resource.get("extension", [])
                                     if not x.get("url", "").endswith(("birthPlace", "mothersMaidenName"))]
            resource["name"] = [{"use": "official", "family": patient.family_name, "given": [patient.given_name]}]
            resource["gender"] = {"female": "female", "male": "male"}.get(patient.sex, "unknown")
            resource["birthDate"] = patient.birth_date.isoformat()
            for address in resource.get("address", []):
                address.pop("extension", None)
                address.update({"state": patient.state or "", "city": "", "line": [], "postalCode": ""})
    onset = (timezone.localdate() - dt.timedelta(days=120)).isoformat()
    bundle["entry"].append({"fullUrl": "urn:uuid:5e1d7c1a-0b7e-4c39-9d0e-7a3f2c1b0a61", "resource": {
        "resourceType": "Condition", "id": "5e1d7c1a-0b7e-4c39-9d0e-7a3f2c1b0a61",
        "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                                       "code": "active"}]},
        "code": {"coding": [{"system": "http://snomed.info/sct", "code": "60573004",
                             "display": "Aortic valve stenosis (disorder)"}], "text": "Aortic valve stenosis"},
        "subject": {"reference": subject}, "onsetDateTime": onset}, "request": {"method": "POST", "url": "Condition"}})
    text = json.dumps(bundle)
    return text.replace("Desmond", patient.given_name).replace("Gutmann", patient.family_name).encode()
