"""The network admin sets the letterhead on a Konsil page; the logo is re-encoded as PNG."""

import base64
import io

from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image

from konsil.accounts.roles import Role
from konsil.audit.models import AuditEvent
from konsil.opinions.models import Letterhead
from tests.factories import make_user


def _png(size=(40, 20)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (29, 79, 145)).save(out, format="PNG")
    return out.getvalue()


def _post(client, **extra):
    data = {"display_name": "Bayview Second Opinions", "address": "1 Harbor Way", "phone": "+1 415 555 0100",
            "email": "reports@bayview.test", "website": "bayview.test", **extra}
    return client.post(reverse("opinions:letterhead"), data)


def test_network_admin_sets_the_letterhead_and_logo(client, login, network):
    admin = make_user(Role.ORG_ADMIN, network)
    login(client, admin)
    assert client.get(reverse("opinions:letterhead")).status_code == 200
    response = _post(client, logo=SimpleUploadedFile("logo.png", _png(), content_type="image/png"))
    assert response.status_code == 302
    row = Letterhead.objects.get(organization=network)
    assert row.display_name == "Bayview Second Opinions" and row.website == "https://bayview.test"
    logo = client.get(reverse("opinions:letterhead_logo", args=[network.pk]))
    assert logo["Content-Type"] == "image/png"
    assert Image.open(io.BytesIO(logo.content)).size == (40, 20)
    assert base64.b64decode(row.logo_png) == logo.content
    assert AuditEvent.objects.filter(action="letterhead.update", actor=admin).exists()

    assert _post(client, remove_logo="on").status_code == 302
    assert Letterhead.objects.get(organization=network).logo_png == ""
    assert client.get(reverse("opinions:letterhead_logo", args=[network.pk])).status_code == 404


def test_bad_logo_and_missing_name_are_field_errors(client, login, network):
    login(client, make_user(Role.ORG_ADMIN, network))
    response = _post(client, display_name="", logo=SimpleUploadedFile("logo.png", b"<svg onload=alert(1)>",
                                                                        content_type="image/png"))
    assert response.status_code == 400
    assert set(response.context["form"].errors) == {"display_name", "logo"}
    gif = io.BytesIO()
    Image.new("RGB", (4, 4)).save(gif, format="GIF")
    response = _post(client, logo=SimpleUploadedFile("logo.gif", gif.getvalue(), content_type="image/gif"))
    assert response.status_code == 400 and "PNG or JPEG" in response.content.decode()
    assert not Letterhead.objects.exists()


def test_only_the_network_admin_edits_it(client, login, coordinator, patient_user):
    for user in (coordinator, patient_user):
        login(client, user)
        assert client.get(reverse("opinions:letterhead")).status_code == 403
        assert _post(client).status_code == 403
    assert not Letterhead.objects.exists()
