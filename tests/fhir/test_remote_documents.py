"""Referral documents sent by URL: fetched from the sender's FHIR server after the referral commits (Binary or raw
bytes, with the client's fetch token), retried, failures told to the coordinators; URLs outside the sender's base
or aimed at internal addresses refused before anything is created."""

from __future__ import annotations

import base64
import json
import uuid
from http.server import BaseHTTPRequestHandler, HTTPServer
from threading import Thread

import pytest

from konsil.cases.models import Case, Notification
from konsil.fhir import remote_docs
from konsil.fhir.models import RemoteDocument

from .conftest import post_bundle, referral_bundle

PDF = b"%PDF-1.4\n% a discharge summary fetched by URL\n"


class SenderServer:
    """The referring hospital's FHIR server: Binary/1 as a FHIR Binary, raw/letter.pdf as bytes, else 404."""

    def __init__(self):
        self.seen: list[dict] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's naming)
                outer.seen.append({"path": self.path, "auth": self.headers.get("Authorization")})
                if self.path == "/fhir/Binary/1":
                    body = json.dumps({"resourceType": "Binary", "contentType": "application/pdf",
                                       "data": base64.b64encode(PDF).decode()}).encode()
                    kind = "application/fhir+json"
                elif self.path == "/fhir/raw/letter.pdf":
                    body, kind = PDF + b"raw", "application/pdf"
                else:
                    self.send_response(404)
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_port}/fhir"
        Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def sender(ehr):
    server = SenderServer()
    ehr.client.source_base = server.base
    ehr.client.fetch_token = "sender-token-123"
    ehr.client.save()
    yield server
    server.server.shutdown()


def by_url(*urls, identifier="REF-URL") -> dict:
    bundle = referral_bundle(identifier=identifier, document=None)
    subject = bundle["entry"][0]["fullUrl"]
    bundle["entry"].append({"fullUrl": f"urn:uuid:{uuid.uuid4()}", "request": {"method": "POST",
                                                                              "url": "DocumentReference"},
                            "resource": {"resourceType": "DocumentReference", "status": "current",
                                         "subject": {"reference": subject},
                                         "content": [{"attachment": {"contentType": "application/pdf",
                                                                     "title": f"doc{n}.pdf", "url": url}}
                                                     for n, url in enumerate(urls)]}})
    return bundle


def test_documents_by_url_are_fetched_after_the_referral(client, ehr, sender, specialist,
                                                         django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = post_bundle(client, ehr, by_url("Binary/1", f"{sender.base}/raw/letter.pdf"))
    assert response.status_code == 201, response.content
    case = Case.objects.get()
    docs = list(RemoteDocument.objects.filter(case=case).order_by("created_at"))
    assert [d.state for d in docs] == ["fetched", "fetched"]
    from konsil.cases.services import read_attachment

    contents = sorted(read_attachment(actor=ehr.client.service_user, attachment=d.attachment) for d in docs)
    assert contents == sorted([PDF, PDF + b"raw"])
    assert {s["auth"] for s in sender.seen} == {"Bearer sender-token-123"}


def test_a_missing_document_is_retried_then_reported(client, ehr, sender, coordinator, specialist,
                                                     django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        assert post_bundle(client, ehr, by_url("Binary/gone")).status_code == 201
    doc = RemoteDocument.objects.get()
    assert doc.state == "pending" and doc.attempts == 1 and doc.error == "HTTP 404" and doc.next_attempt_at
    for _ in range(remote_docs.MAX_ATTEMPTS - 1):
        remote_docs.fetch(str(doc.pk))
    doc.refresh_from_db()
    assert doc.state == "failed" and doc.attempts == remote_docs.MAX_ATTEMPTS
    assert remote_docs.fetch(str(doc.pk)) is None  # finished: left alone
    assert Notification.objects.filter(case=doc.case, kind="remote_document_failed", user=coordinator).exists()


@pytest.mark.parametrize("url", ["http://10.0.0.5/fhir/Binary/1", "https://elsewhere.example/Binary/1",
                                 "../../other/Binary/1", ""])
def test_urls_outside_the_senders_base_are_refused(client, ehr, sender, url):
    response = post_bundle(client, ehr, by_url(url))
    assert response.status_code in (400, 422), response.content
    assert response.json()["resourceType"] == "OperationOutcome"
    assert not Case.objects.exists() and not RemoteDocument.objects.exists()


def test_without_a_registered_base_documents_must_be_inline(client, ehr):
    response = post_bundle(client, ehr, by_url("Binary/1"))
    assert response.status_code in (400, 422)
    assert "inline" in json.dumps(response.json())
    assert not Case.objects.exists()
