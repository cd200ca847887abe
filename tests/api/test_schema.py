"""OpenAPI schema: generated without warnings or errors, valid, and Swagger UI served from local assets."""

from __future__ import annotations

import re

from django.core.management import call_command

EXPECTED_PATHS = [
    "/api/v1/auth/token/", "/api/v1/me/", "/api/v1/cases/", "/api/v1/cases/{id}/",
    "/api/v1/cases/{id}/consent/", "/api/v1/cases/{id}/transitions/", "/api/v1/cases/{id}/attachments/",
    "/api/v1/cases/{id}/attachments/{attachment_id}/download/", "/api/v1/cases/{id}/messages/",
    "/api/v1/cases/{id}/triage/", "/api/v1/cases/{id}/candidates/", "/api/v1/cases/{id}/opinion/",
    "/api/v1/cases/{id}/opinions/", "/api/v1/cases/{id}/report.pdf", "/api/v1/specialists/",
    "/api/v1/specialties/", "/api/v1/notifications/", "/api/v1/notifications/read/", "/api/v1/cases/{id}/panel/",
    "/api/v1/cases/{id}/panel/seats/{seat_id}/candidates/", "/api/v1/cases/{id}/panel/seats/{seat_id}/fill/",
    "/api/v1/cases/{id}/panel/seats/{seat_id}/waive/",
]


def test_schema_generates_cleanly(tmp_path, db):
    # --fail-on-warn raises when drf-spectacular reported any warning or error; --validate checks OpenAPI 3.
    target = tmp_path / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(target))
    text = target.read_text()
    for path in EXPECTED_PATHS:
        assert f"  {path}:" in text, path


def test_schema_endpoint(client, login, coordinator):
    login(client, coordinator)  # signed-in by default (KONSIL_API_DOCS_PUBLIC opens it)
    response = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    schema = response.json()
    assert set(EXPECTED_PATHS) <= set(schema["paths"])
    assert {"tokenAuth", "cookieAuth"} <= set(schema["components"]["securitySchemes"])


def test_swagger_ui_uses_only_local_assets(client, login, coordinator):
    login(client, coordinator)
    response = client.get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert not re.search(r"https?://", html), re.findall(r"https?://\S+", html)
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert assets and all(a.startswith(("/static/", "/api/docs/?")) for a in assets), assets
    assert not re.search(r"<script>", html)  # the page's own script is a file too (Content-Security-Policy)
    for asset in assets:  # served by the app itself
        response = client.get(asset)
        assert response.status_code == 200, asset
        if response.streaming:  # read to the end: the test client closes it without closing the test's connection
            b"".join(response.streaming_content)
