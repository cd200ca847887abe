"""Single-use links never put their secret where an access log records it (#10, finding 6).

Headless Chromium follows the e-mailed links of a whole journey (sign-up verification, password reset, a caregiver
invitation) against the live server; the server's access log (request line, status, Referer, as gunicorn writes
it) and the application logs are then searched for every secret the e-mails carried."""

from __future__ import annotations

import logging
import re

import pytest
from django.core import mail
from django.core.servers import basehttp

from konsil.accounts.models import User

from ..browser.test_journey import CHROMIUM, browser  # noqa: F401 - the browser fixture

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM, reason="no chromium: browser tests skipped (apt-get install chromium)"),
]
PASSWORD = "a long passphrase for the link test"
NEW_PASSWORD = "another long passphrase after reset"


@pytest.fixture
def access_log(monkeypatch):
    """The live server's request lines, as an access log writes them (Django's test server logs nothing)."""
    lines: list[str] = []

    def log_request(self, code="-", size="-"):
        lines.append(f'{self.client_address[0]} "{self.requestline}" {code} "{self.headers.get("Referer", "-")}"')

    monkeypatch.setattr(basehttp.WSGIRequestHandler, "log_request", log_request)
    return lines


def _mailed() -> str:
    body = mail.outbox[-1].body
    return re.search(r"https?://\S+", body).group(0)


def _submit(page):
    page.click("main button[type=submit].primary")
    page.wait_for_load_state()


@pytest.mark.django_db(transaction=True)
def test_a_journey_of_links_leaves_no_secret_in_the_logs(browser, live_server, access_log, network, caplog,  # noqa: F811
                                                         patient_user, draft_case):
    caplog.set_level(logging.DEBUG)
    from konsil.cases.models import Invitation

    context = browser.new_context(base_url=live_server.url)
    context.set_default_timeout(30_000)
    page = context.new_page()
    links = []

    # 1. Sign up, then open the verification link: the page posts the fragment and lands on sign-in.
    page.goto("/accounts/signup/")
    page.fill("input[name=email]", "link.tester@example.test")
    page.fill("input[name=password1]", PASSWORD)
    page.fill("input[name=password2]", PASSWORD)
    page.check("input[name=agree]")
    page.click("main button[type=submit]")
    page.wait_for_load_state()
    links.append(_mailed())
    page.goto(links[-1])
    page.wait_for_url(re.compile(r"/accounts/login/"))
    assert "#" not in page.url
    assert User.objects.get(email="link.tester@example.test").is_active

    # 2. Forgotten password: the reset link opens the new-password form at a plain address.
    page.goto("/accounts/password/reset/")
    page.fill("input[name=email]", "link.tester@example.test")
    page.click("main button[type=submit]")
    page.wait_for_load_state()
    links.append(_mailed())
    page.goto(links[-1])
    page.wait_for_url(re.compile(r"/accounts/password/reset/new/"))
    page.fill("input[name=new_password1]", NEW_PASSWORD)
    page.fill("input[name=new_password2]", NEW_PASSWORD)
    _submit(page)
    assert "/accounts/password/reset/done/" in page.url
    assert User.objects.get(email="link.tester@example.test").check_password(NEW_PASSWORD)
    page.goto(links[-1])  # used once: the page says so
    page.wait_for_selector("#link-invalid")

    # 3. A caregiver invitation, opened by the invitee in a fresh browser.
    from konsil.accounts.onboarding import invite

    invite(actor=patient_user, kind=Invitation.Kind.CAREGIVER, email="carer.link@example.test",
           relationship="sister", base_url=live_server.url)
    links.append(_mailed())
    carer = browser.new_context(base_url=live_server.url).new_page()
    carer.goto(links[-1])
    carer.wait_for_url(re.compile(r"/accounts/invitations/accept/"))
    carer.fill("input[name=password1]", PASSWORD)
    carer.fill("input[name=password2]", PASSWORD)
    carer.click("main button[type=submit].primary")
    carer.wait_for_load_state()
    assert User.objects.filter(email="carer.link@example.test", is_active=True).exists()

    # Every link carried its secret after '#', and no log holds any of it.
    secrets = []
    for link in links:
        path, sep, fragment = link.partition("#")
        assert sep and path.endswith("/accounts/link/"), link
        secrets += [fragment] + [part for part in re.split(r"[.:]", fragment) if len(part) >= 8]
    log = "\n".join(access_log)
    app_logs = "\n".join(f"{r.name} {r.getMessage()} {r.args!r}" for r in caplog.records)
    assert "/accounts/link/" in log and "/accounts/password/reset/new/" in log  # the journey was logged
    for secret in secrets:
        assert secret not in log, secret
        assert secret not in app_logs, secret
