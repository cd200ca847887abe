"""Input limits on every endpoint: nesting and size of JSON bodies, bounded paging, nested text checked like
top-level text (NUL and lone surrogates refused with a field-level 400), never a 500."""

from __future__ import annotations

import json

import pytest

from konsil.cases.models import Case, Message

from .conftest import API


def deep(levels: int):
    value: object = "x"
    for _ in range(levels):
        value = {"a": [value]}
    return value


def post_raw(client, url: str, body: str):
    return client.post(url, data=body.encode("utf-8", "surrogatepass"), content_type="application/json")


@pytest.fixture
def patient_api(api, patient_user):
    return api(patient_user)


@pytest.mark.parametrize("path", ["messages/", "transitions/"])
@pytest.mark.parametrize("levels", [40, 100_000])
def test_deep_nesting_is_a_400(patient_api, draft_case, path, levels):
    if levels > 1000:  # json.dumps itself would recurse: build the text by hand
        body = '{"a":[' * levels + '"x"' + "]}" * levels
    else:
        body = json.dumps({"body": "hi", "action": "submit", "extra": deep(levels)})
    before = Message.objects.count()
    response = post_raw(patient_api, f"{API}/cases/{draft_case.pk}/{path}", body)
    assert response.status_code == 400, response.content[:300]
    assert response.json()["code"] == "invalid"
    assert "Nested too deeply" in json.dumps(response.json()["errors"])
    assert Message.objects.count() == before


def test_a_body_over_the_limit_is_a_400(patient_api, draft_case, settings):
    settings.KONSIL_MAX_JSON_BYTES = 1000
    response = patient_api.post(f"{API}/cases/{draft_case.pk}/messages/", {"body": "x" * 2000}, format="json")
    assert response.status_code == 400
    assert "too large" in response.json()["errors"]["non_field_errors"][0]


@pytest.mark.parametrize(("body", "field"), [
    ('{"channel": "patient", "patient": {"given_name": "A\\ud800"}}', "patient.given_name"),
    ('{"questions": ["fine", "nul \\u0000 here"]}', "questions.1"),
    ('{"opinion": {"values": {"recommendation": {"text": "\\udfff"}}}}', "opinion.values.recommendation.text"),
    ('{"body": "a\\u0000b"}', "body"),
    ('{"a\\u0000": 1}', "non_field_errors"),
])
def test_nested_bad_text_is_refused_with_its_field(patient_api, body, field):
    before = Case.objects.count()
    response = post_raw(patient_api, f"{API}/cases/", body)
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert field in errors, errors
    assert Case.objects.count() == before


def test_invalid_json_and_empty_bodies(patient_api, draft_case):
    url = f"{API}/cases/{draft_case.pk}/messages/"
    assert post_raw(patient_api, url, "{not json").status_code == 400
    assert post_raw(patient_api, url, '"\\ud800"').status_code == 400
    assert patient_api.post(url, data=b"\xff\xfe", content_type="application/json").status_code == 400


@pytest.mark.parametrize("query", ["limit=999999999999999999999", "offset=999999999999999999999",
                                   "limit=100000000&offset=99999999999999", "limit=-5", "limit=abc&offset=x"])
@pytest.mark.parametrize("path", ["cases/", "notifications/", "specialists/"])
def test_paging_is_bounded(patient_api, coordinator, api, draft_case, query, path):
    client = api(coordinator) if path == "specialists/" else patient_api
    response = client.get(f"{API}/{path}?{query}")
    assert response.status_code == 200, response.content[:300]
    body = response.json()
    assert len(body["results"]) <= 200


def test_a_huge_limit_is_clamped(settings, patient_api, draft_case):
    settings.KONSIL_MAX_PAGE_SIZE = 1
    response = patient_api.get(f"{API}/cases/?limit=10000000000000")
    assert response.status_code == 200 and len(response.json()["results"]) == 1
