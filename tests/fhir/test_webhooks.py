"""Webhooks: signed per Standard Webhooks, no PHI, retried with backoff, logged, replayable."""

from __future__ import annotations

import json
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from django.utils import timezone

from konsil.cases.models import Case
from konsil.fhir import webhooks
from konsil.fhir.errors import FhirError
from konsil.fhir.models import WebhookDelivery

from .conftest import post_bundle, referral_bundle

pytestmark = pytest.mark.django_db


class Receiver:
    """A test receiver on localhost: records every request, answers with `status`."""

    def __init__(self):
        self.received, self.status = [], 204
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers["content-length"]))
                outer.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(outer.status)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def events(self):
        return [json.loads(body)["type"] for _h, body in self.received]


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.server.shutdown()
    r.server.server_close()


def test_a_referral_and_its_delivery_arrive_signed(client, ehr, hospital, walker, receiver,
                                                   django_capture_on_commit_callbacks):
    sub = webhooks.subscribe(actor="test", organization=hospital, url=receiver.url,
                             events=["case.submitted", "opinion.delivered"])
    with django_capture_on_commit_callbacks(execute=True):
        assert post_bundle(client, ehr, referral_bundle()).status_code == 201
    case = Case.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        walker.walk_to(case, "delivered")
    assert receiver.events() == ["case.submitted", "opinion.delivered"]
    for headers, body in receiver.received:
        assert webhooks.verify(sub.secret, headers, body)
        assert headers["webhook-signature"].startswith("v1,") and headers["webhook-id"].startswith("msg_")
        assert b"Koepp" not in body and b"Abdul" not in body and b"1956" not in body  # no PHI
    delivered = json.loads(receiver.received[-1][1])
    opinion = case.opinions.get()
    assert f"DiagnosticReport/{opinion.pk}" in delivered["data"]["resources"]
    assert delivered["data"]["case"]["id"] == str(case.pk)
    assert set(WebhookDelivery.objects.values_list("state", flat=True)) == {"delivered"}
    headers, body = receiver.received[0]
    assert not webhooks.verify(sub.secret, headers, body + b" ")
    assert not webhooks.verify(webhooks.new_secret(), headers, body)


def test_other_organizations_hear_nothing(client, ehr, other_hospital, receiver,
                                          django_capture_on_commit_callbacks):
    webhooks.subscribe(actor="test", organization=other_hospital, url=receiver.url, events=["*"])
    with django_capture_on_commit_callbacks(execute=True):
        post_bundle(client, ehr, referral_bundle())
    assert receiver.received == [] and not WebhookDelivery.objects.exists()


def test_failures_back_off_then_fail_and_replay_resends(client, ehr, hospital, receiver,
                                                        django_capture_on_commit_callbacks):
    webhooks.subscribe(actor="test", organization=hospital, url=receiver.url, events=["case.submitted"])
    receiver.status = 503
    with django_capture_on_commit_callbacks(execute=True):
        post_bundle(client, ehr, referral_bundle())
    delivery = WebhookDelivery.objects.get()
    assert delivery.state == "pending" and delivery.attempts == 1 and delivery.last_status == 503
    wait = (delivery.next_attempt_at - timezone.now()).total_seconds()
    assert 0 < wait <= webhooks.BACKOFF_SECONDS[0]
    assert webhooks.retry_due() == 0  # not due yet
    gaps = []
    for _ in range(webhooks.MAX_ATTEMPTS - 1):
        WebhookDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now() - timedelta(seconds=1))
        before = timezone.now()
        assert webhooks.retry_due() == 1
        delivery.refresh_from_db()
        if delivery.next_attempt_at:
            gaps.append((delivery.next_attempt_at - before).total_seconds())
    assert gaps == sorted(gaps) and gaps[-1] > 3600  # exponential: each wait longer than the last
    assert delivery.state == "failed" and delivery.attempts == webhooks.MAX_ATTEMPTS
    assert len(receiver.received) == webhooks.MAX_ATTEMPTS
    receiver.status = 200
    with django_capture_on_commit_callbacks(execute=True):
        webhooks.replay(actor="test", delivery=delivery)
    delivery.refresh_from_db()
    assert delivery.state == "delivered" and len(receiver.received) == webhooks.MAX_ATTEMPTS + 1


def test_unreachable_receiver_is_logged(hospital, client, ehr, django_capture_on_commit_callbacks):
    webhooks.subscribe(actor="test", organization=hospital, url="http://127.0.0.1:9/nothing", events=["*"])
    with django_capture_on_commit_callbacks(execute=True):
        post_bundle(client, ehr, referral_bundle())
    delivery = WebhookDelivery.objects.get()
    assert delivery.state == "pending" and delivery.last_status is None and delivery.last_error


@pytest.mark.parametrize("url, events", [("http://x.test/h", ["case.exploded"]), ("ftp://x.test/h", ["*"]),
                                         ("http://x.test/h", [])])
def test_bad_subscriptions_are_refused(hospital, url, events):
    with pytest.raises(FhirError):
        webhooks.subscribe(actor="test", organization=hospital, url=url, events=events)


def test_program_determination_events_are_subscribable(hospital):
    sub = webhooks.subscribe(actor="test", organization=hospital, url="http://127.0.0.1:9/h",
                             events=["determination.issued"])
    assert sub.events == ["determination.issued"]
