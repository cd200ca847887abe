"""Follow-up e-mails in the respondent's language. The link's secret travels in the URL fragment (#...), which
browsers never send to a server, so it appears in no access log; the page's script posts it."""

from __future__ import annotations

from django.conf import settings
from django.core.mail import EmailMessage
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation


def link(secret: str) -> str:
    return f"{settings.KONSIL_SITE_URL}{reverse('outcomes:open')}#{secret}"


def send(follow_up, secret: str, *, reminder: bool) -> None:
    language = follow_up.language if follow_up.language in dict(settings.LANGUAGES) else settings.LANGUAGE_CODE
    with translation.override(language):
        context = {"follow_up": follow_up, "link": link(secret), "secret": secret, "reminder": reminder,
                   "brand": settings.KONSIL_BRAND_NAME, "open_url": settings.KONSIL_SITE_URL + reverse("outcomes:open"),
                   "expires_at": follow_up.expires_at}
        subject = render_to_string("outcomes/email/subject.txt", context).strip()
        body = render_to_string("outcomes/email/follow_up.txt", context)
    EmailMessage(subject, body, settings.DEFAULT_FROM_EMAIL, [follow_up.email],
                 headers={"Content-Language": language}).send()
