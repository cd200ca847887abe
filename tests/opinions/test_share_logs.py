"""Secrets in logs: a full share journey leaves nothing in the access log, the application logs or the share
e-mail that opens the report (issue 10, finding 6). The access log is written as gunicorn writes it (request
line with query string, status, referrer, user agent) for every request of the journey."""

import logging
import re

from django.core import mail
from django.test import Client
from django.urls import reverse

from konsil.opinions.models import ReportShare

BIRTH_DATE = "1970-05-17"


class LoggedClient(Client):
    """A test client that writes a gunicorn-style access-log line for each request it sends."""

    access_log: list[str]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.access_log = []

    def request(self, **request):
        response = super().request(**request)
        query = request.get("QUERY_STRING", "")
        line = '127.0.0.1 - - "{} {}{} HTTP/1.1" {} - "{}" "{}"'.format(
            request.get("REQUEST_METHOD", "GET"), request.get("PATH_INFO", ""), f"?{query}" if query else "",
            response.status_code, request.get("HTTP_REFERER", "-"), request.get("HTTP_USER_AGENT", "-"))
        self.access_log.append(line)
        logging.getLogger("gunicorn.access").info(line)
        return response


def test_no_secret_of_the_share_journey_reaches_a_log(login, case_at, patient_user, caplog):
    caplog.set_level(logging.DEBUG)
    case = case_at("delivered")
    patient = login(LoggedClient(), patient_user)
    assert patient.post(reverse("opinions:share", args=[case.pk]), {
        "recipient_name": "Dr. Lee", "recipient_email": "lee@clinic.test", "days": "7"}).status_code == 302
    share_mail = mail.outbox[-1]
    link = re.search(r"http://testserver(/shared/[^/\s]+/)", share_mail.body).group(1)

    physician = LoggedClient(HTTP_REFERER="https://mail.example.test/inbox", HTTP_USER_AGENT="Browser/1.0")
    assert physician.get(link).status_code == 200
    assert physician.post(link + "code/").status_code == 200
    code_mail = mail.outbox[-1]
    code = re.search(r"\b(\d{6})\b", code_mail.body).group(1)
    assert physician.post(link, {"method": "email_code", "code": code}).status_code == 302
    assert case.reference in physician.get(link).content.decode()
    assert physician.get(link + "report.pdf").status_code == 200
    second = LoggedClient()
    assert second.post(link, {"method": "birth_date", "birth_date": BIRTH_DATE}).status_code == 302
    assert second.get(link).status_code == 200
    grant = ReportShare.objects.get()
    assert patient.post(reverse("opinions:share_revoke", args=[case.pk, grant.pk])).status_code == 302
    assert physician.get(link).status_code == 404

    sessions = {c.cookies["sessionid"].value for c in (physician, second) if "sessionid" in c.cookies}
    secrets = {code, BIRTH_DATE, "17/05/1970", "05/17/1970", *sessions}
    access_log = "\n".join(patient.access_log + physician.access_log + second.access_log)
    app_logs = "\n".join(f"{r.name} {r.getMessage()} {r.args!r}" for r in caplog.records)
    assert link in access_log  # the public id is logged, and it is all that is
    for secret in secrets:
        assert secret not in access_log, secret
        assert secret not in app_logs, secret
    # the share e-mail carries the page address, which asks for proof; the code comes separately
    assert code not in share_mail.body and BIRTH_DATE not in share_mail.body
    assert link not in code_mail.body
    # what the log shows opens nothing: the logged page asks for proof, the logged PDF address redirects
    for line in access_log.splitlines():
        path = line.split('"')[1].split()[1]
        if path.startswith("/shared/"):
            response = Client().get(path)
            assert case.reference not in response.content.decode()
