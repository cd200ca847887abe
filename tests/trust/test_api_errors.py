"""The OpenAPI document names the error bodies of every /api/v1 operation, and what the API answers matches it."""

from __future__ import annotations

import pytest
from drf_spectacular.generators import SchemaGenerator

from ..api.conftest import API, token_client

OPERATIONS = ("get", "post", "put", "patch", "delete")


@pytest.fixture(scope="module")
def document():
    return SchemaGenerator().get_schema(request=None, public=True)


def _operations(document):
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method in OPERATIONS:
                yield path, method, operation


def _error_ref(operation, code):
    return operation["responses"][str(code)]["content"]["application/json"]["schema"]["$ref"]


def test_every_operation_documents_its_error_bodies(document):
    error = document["components"]["schemas"]["Error"]
    assert error["required"] == ["code", "detail", "errors"]
    operations = list(_operations(document))
    assert len(operations) > 50
    for path, method, operation in operations:
        where = f"{method.upper()} {path}"
        codes = {403, 429}
        codes |= {401} if {} not in operation.get("security", [{}]) else set()
        codes |= {404, 409} if "{" in path else set()
        codes |= {400, 409} if method != "get" else set()
        codes |= {400} if any(p["in"] == "query" for p in operation.get("parameters", [])) else set()
        for code in codes:
            assert _error_ref(operation, code) == "#/components/schemas/Error", (where, code)


def test_a_view_keeps_its_own_error_description(document):
    patch = document["paths"]["/api/v1/records/uploads/{upload_id}"]["patch"]["responses"]
    assert patch["409"]["description"].startswith("Offset mismatch")
    assert patch["409"]["content"]["application/json"]["schema"]["$ref"] == "#/components/schemas/Error"


def test_lists_under_a_case_that_grow_are_paged_as_documented(document, patient_user, walker, draft_case):
    from konsil.cases import services

    client = token_client(patient_user)
    case = walker.walk_to(draft_case, "submitted")
    for n in range(3):
        services.post_message(actor=patient_user, case=case, body=f"note {n}")
    for name in ("messages", "attachments"):
        schema = document["paths"][f"/api/v1/cases/{{id}}/{name}/"]["get"]["responses"]["200"]
        ref = schema["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
        assert ref.startswith("Paginated"), name
    page = client.get(f"{API}/cases/{case.pk}/messages/?limit=2")
    assert page.status_code == 200 and page.json()["count"] == 3 and len(page.json()["results"]) == 2
    rest = client.get(page.json()["next"])
    assert [m["body"] for m in rest.json()["results"]] == ["note 2"]
    huge = client.get(f"{API}/cases/{case.pk}/messages/?limit=99999999999999999999&offset=99999999999999999999")
    assert huge.status_code == 200 and huge.json()["results"] == []


def test_bounded_lists_under_a_case_are_documented_as_the_arrays_they_are(document, patient_user, draft_case):
    client = token_client(patient_user)
    for name in ("opinions", "code-suggestions", "consults"):
        schema = document["paths"][f"/api/v1/cases/{{id}}/{name}/"]["get"]["responses"]["200"]
        assert schema["content"]["application/json"]["schema"]["type"] == "array", name
        response = client.get(f"{API}/cases/{draft_case.pk}/{name}/?offset=0")
        assert response.status_code in (200, 403, 404), name
        if response.status_code == 200:
            assert isinstance(response.json(), list), name


@pytest.mark.parametrize("path", [
    "/cases/not-a-case/attachments/0.5/download/", "/records/uploads/null%2Cnull", "/no-such-thing/",
])
def test_an_api_address_that_matches_no_route_answers_json(path, patient_user):
    response = token_client(patient_user).get(f"{API}{path}")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"code": "not_found", "detail": "Not found.", "errors": {}}


def test_pages_keep_the_html_404(client, patient_user, login):
    login(client, patient_user)
    response = client.get("/no-such-page/")
    assert response.status_code == 404 and response["Content-Type"].startswith("text/html")


def test_error_bodies_match_the_error_schema(patient_user, draft_case):
    def api(user):
        return token_client(user)

    anonymous = token_client().get(f"{API}/cases/")
    assert anonymous.status_code in (401, 403)
    forbidden = api(patient_user).get(f"{API}/specialists/")
    missing = api(patient_user).get(f"{API}/cases/00000000-0000-0000-0000-000000000000/")
    invalid = api(patient_user).post(f"{API}/cases/{draft_case.pk}/messages/", {"body": ""}, format="json")
    for response in (anonymous, forbidden, missing, invalid):
        body = response.json()
        assert set(body) == {"code", "detail", "errors"}, body
        assert isinstance(body["errors"], dict) and all(isinstance(v, list) for v in body["errors"].values())
    assert (forbidden.status_code, missing.status_code) == (403, 404) and invalid.status_code in (400, 409)
