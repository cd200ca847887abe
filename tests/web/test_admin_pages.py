"""Konsil's own admin pages for organization admins: people, roles, additions; audited; scoped to their org."""

from __future__ import annotations

from konsil.accounts.models import Membership, User
from konsil.accounts.roles import Role

from ..factories import make_user
from .conftest import events, url


def _admin(network):
    return make_user(Role.ORG_ADMIN, network, first_name="Adam")


def test_org_admin_lists_people_of_their_org_only(client, login, network, other_network, coordinator,
                                                  other_coordinator):
    admin = _admin(network)
    login(client, admin)
    response = client.get(url("accounts:manage_users"))
    assert response.status_code == 200
    body = response.content.decode()
    assert coordinator.email in body and other_coordinator.email not in body
    assert events("accounts.user_list", actor=admin).count() == 1
    assert client.get(url("accounts:manage_user", pk=other_coordinator.pk)).status_code == 404


def test_search_filters_by_role(client, login, network, coordinator, patient_user):
    login(client, _admin(network))
    body = client.get(url("accounts:manage_users"), {"role": "coordinator"}).content.decode()
    assert coordinator.email in body and patient_user.email not in body
    bad = client.get(url("accounts:manage_users"), {"role": "emperor"})
    assert bad.status_code == 200 and "Select a valid choice." in bad.content.decode()


def test_add_and_remove_a_role(client, login, network, coordinator):
    admin = _admin(network)
    login(client, admin)
    page = url("accounts:manage_user", pk=coordinator.pk)
    response = client.post(page, {"organization": str(network.pk), "role": "auditor"})
    assert response.status_code == 302
    membership = Membership.objects.get(user=coordinator, role="auditor")
    assert events("membership.create", actor=admin).count() == 1
    again = client.post(page, {"organization": str(network.pk), "role": "auditor"})
    assert "already has this role" in again.content.decode()
    client.post(url("accounts:manage_membership_toggle", pk=coordinator.pk, membership=membership.pk))
    membership.refresh_from_db()
    assert not membership.active and events("membership.deactivate").count() == 1


def test_admin_cannot_remove_own_admin_role(client, login, network):
    admin = _admin(network)
    login(client, admin)
    own = admin.memberships.get(role=Role.ORG_ADMIN)
    response = client.post(url("accounts:manage_membership_toggle", pk=admin.pk, membership=own.pk), follow=True)
    own.refresh_from_db()
    assert own.active and "cannot remove your own admin role" in response.content.decode()


def test_add_a_person_and_bad_input(client, login, network, coordinator):
    admin = _admin(network)
    login(client, admin)
    new = url("accounts:manage_user_new")
    bad = client.post(new, {"email": coordinator.email, "first_name": "", "organization": str(network.pk),
                            "role": "coordinator"})
    assert bad.status_code == 200
    body = bad.content.decode()
    assert "already has an account" in body and 'aria-invalid="true"' in body
    assert body.count('class="field-error"') == 2
    ok = client.post(new, {"email": "new.person@example.test", "first_name": "Nia", "last_name": "Ng",
                           "organization": str(network.pk), "role": "specialist"})
    assert ok.status_code == 302
    person = User.objects.get(email="new.person@example.test")
    assert not person.has_usable_password() and person.has_role(Role.SPECIALIST)
    assert events("user.create", actor=admin).count() == 1


def test_other_roles_are_refused(client, login, coordinator, patient_user):
    login(client, coordinator)
    assert client.get(url("accounts:manage_users")).status_code == 403
    client.force_login(patient_user)
    assert client.get(url("accounts:manage_user_new")).status_code == 403


def test_nav_shows_konsil_admin_and_django_admin_only_to_superusers(client, login, network):
    admin = _admin(network)
    login(client, admin)
    body = client.get(url("accounts:manage_users")).content.decode()
    assert url("accounts:manage_users") in body and "/admin/" not in body
    admin.is_superuser = admin.is_staff = True
    admin.save()
    assert "/admin/" in client.get(url("accounts:manage_users")).content.decode()



def test_org_admin_lands_on_konsil_pages_not_django_admin(client, login, network):
    login(client, _admin(network))
    response = client.get("/")
    assert response.status_code == 302 and response.url == url("accounts:manage_users")


def test_open_clinician_invitations_are_listed_caregiver_ones_are_not(client, login, network, coordinator,
                                                                      patient_user):
    import datetime as dt

    from django.utils import timezone

    from konsil.cases.models import Invitation

    later = timezone.now() + dt.timedelta(days=3)
    Invitation.objects.create(kind="clinician", network=network, email="dr.new@example.test", invited_by=coordinator,
                              expires_at=later)
    Invitation.objects.create(kind="caregiver", network=network, email="aunt@example.test", invited_by=patient_user,
                              expires_at=later)
    Invitation.objects.create(kind="clinician", network=network, email="dr.old@example.test", invited_by=coordinator,
                              expires_at=timezone.now() - dt.timedelta(days=1))
    login(client, _admin(network))
    body = client.get(url("accounts:manage_users")).content.decode()
    assert "dr.new@example.test" in body
    assert "aunt@example.test" not in body and "dr.old@example.test" not in body
