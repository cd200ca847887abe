"""Webhook receivers cannot be aimed at Konsil's own network (SSRF): checked at subscription and at the socket."""

from __future__ import annotations

import urllib.request
from http.server import BaseHTTPRequestHandler, HTTPServer
from threading import Thread

import pytest

from konsil.fhir import egress, webhooks
from konsil.fhir.errors import FhirError


@pytest.fixture
def strict(settings):
    settings.KONSIL_WEBHOOK_ALLOWED_NETWORKS = []


@pytest.mark.parametrize("url", [
    "http://127.0.0.1:8000/hook", "http://localhost/hook", "http://10.1.2.3/hook", "http://192.168.0.10/hook",
    "http://172.16.5.5/hook", "http://169.254.169.254/latest/meta-data/", "http://[::1]/hook",
    "http://[::ffff:127.0.0.1]/hook", "http://0.0.0.0/hook", "http://100.64.0.1/hook", "http://224.0.0.1/hook",
    "http://user:pw@93.184.215.14/hook", "gopher://93.184.215.14/", "http:///nohost", "http://[zz]/",
    "http://host.invalid/hook",
])
def test_internal_or_odd_receivers_are_refused(strict, hospital, url):
    with pytest.raises(FhirError) as err:
        webhooks.subscribe(actor="test", organization=hospital, url=url, events=["*"])
    assert err.value.expression == "url"


def test_public_addresses_pass_the_check(strict):
    egress.check_url("https://93.184.215.14/hook")  # a literal public address: no DNS needed
    assert egress.address_allowed("8.8.8.8") and egress.address_allowed("2001:4860:4860::8888")
    assert not egress.address_allowed("::ffff:10.0.0.1") and not egress.address_allowed("fe80::1%eth0")


def test_an_operator_may_trust_a_private_network(settings):
    settings.KONSIL_WEBHOOK_ALLOWED_NETWORKS = ["10.20.0.0/16"]
    assert egress.address_allowed("10.20.3.4") and not egress.address_allowed("10.21.3.4")


class _Redirector(BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802 (http.server's naming)
        self.send_response(302)
        self.send_header("Location", "http://169.254.169.254/latest/")
        self.end_headers()

    def log_message(self, *args):
        pass


def test_delivery_checks_the_peer_it_reached_and_follows_no_redirect(settings):
    server = HTTPServer(("127.0.0.1", 0), _Redirector)
    Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}/hook"
    try:
        settings.KONSIL_WEBHOOK_ALLOWED_NETWORKS = []  # as if DNS had answered a public address at subscription
        with pytest.raises(egress.EgressRefused):
            egress.open_guarded(urllib.request.Request(url, data=b"{}", method="POST"), timeout=5)
        settings.KONSIL_WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.0/8"]
        with pytest.raises(urllib.error.HTTPError) as err:  # the 302 is the answer: not followed
            egress.open_guarded(urllib.request.Request(url, data=b"{}", method="POST"), timeout=5)
        assert err.value.code == 302
    finally:
        server.shutdown()
