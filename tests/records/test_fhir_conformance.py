"""The FHIR records import reads each resource through fhir.resources where it conforms, and still reads (and
counts) real-world resources that do not."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from konsil.records import fhir

SYNTHEA = sorted(Path("/work/shared/data/synthea").glob("*.json.gz"))[:5]


@pytest.mark.skipif(not SYNTHEA, reason="Synthea sample bundles not in /work/shared/data")
def test_synthea_bundles_conform():
    for path in SYNTHEA:
        summary = fhir.summarize(json.loads(gzip.decompress(path.read_bytes())))
        assert summary.nonconforming == {}, path.name


def test_nonconforming_resources_are_read_and_counted():
    quirky = {"resourceType": "Condition",  # no subject (required in R4), a date where a dateTime is expected
              "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "C50.911"}],
                       "text": "Breast cancer"},
              "onsetDateTime": "2026/03/01", "clinicalStatus": {"coding": [{"code": "active"}]}}
    good = {"resourceType": "Condition", "subject": {"reference": "Patient/1"},
            "code": {"text": "Hypertension"}}
    summary = fhir.summarize({"resourceType": "Bundle", "type": "collection",
                              "entry": [{"resource": quirky}, {"resource": good}]})
    assert summary.nonconforming == {"Condition": 1}
    assert {c["display"] for c in summary.conditions} == {"Breast cancer", "Hypertension"}
    again = fhir.ClinicalSummary.from_dict(json.loads(json.dumps(summary.to_dict())))
    assert again.nonconforming == {"Condition": 1}
    assert fhir.conforms(good) and not fhir.conforms(quirky) and not fhir.conforms({"resourceType": "Nope"})
