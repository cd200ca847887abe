"""The admin: staff only, reached through Konsil's sign-in and MFA; a staff member who is also an org admin sees
only their organizations; plain org admins are sent to Konsil's own admin pages."""

import pytest
from django.urls import reverse

from konsil.accounts.models import Membership, User
from konsil.accounts.roles import Role

from ..factories import OrganizationFactory, UserFactory, make_user


@pytest.fixture
def superuser(db):
    return UserFactory(is_staff=True, is_superuser=True)


@pytest.fixture
def org_admin(network):
    """A staff member (say, the hosting team's) who administers one organization."""
    return make_user(Role.ORG_ADMIN, network, is_staff=True)


def test_plain_org_admin_is_sent_to_konsils_own_admin_pages(client, network, login):
    login(client, make_user(Role.ORG_ADMIN, network))
    for page in ("/admin/", reverse("admin:accounts_user_changelist")):
        response = client.get(page, follow=True)
        assert response.redirect_chain[-1][0] == reverse("accounts:manage_users"), page
        assert response.status_code == 200


def test_staff_reaches_admin_after_mfa_and_sees_organizations(client, superuser, network, login):
    login(client, superuser)
    index = client.get("/admin/")
    assert index.status_code == 200
    assert "Organizations" in index.content.decode()
    listing = client.get(reverse("admin:accounts_organization_changelist"))
    assert listing.status_code == 200 and network.name in listing.content.decode()


def test_staff_without_mfa_is_sent_to_mfa(client, superuser):
    client.force_login(superuser)
    response = client.get("/admin/")
    assert response.status_code == 302 and response.url.startswith(reverse("accounts:mfa"))


def test_anonymous_admin_goes_to_konsil_sign_in(client, db):
    response = client.get("/admin/", follow=True)
    assert response.redirect_chain[-1][0] == f"{reverse('accounts:login')}?next=/admin/"


def test_signed_in_user_without_admin_access_gets_403(client, coordinator, login):
    login(client, coordinator)
    response = client.get("/admin/", follow=True)
    assert response.status_code == 403


def test_admin_logout_is_audited_post(client, superuser, login):
    login(client, superuser)
    response = client.post(reverse("admin:logout"))
    assert response.status_code == 302 and "_auth_user_id" not in client.session


def test_superuser_adds_user_by_email(client, superuser, login):
    login(client, superuser)
    response = client.post(reverse("admin:accounts_user_add"), {
        "email": "new.person@example.test", "first_name": "New", "last_name": "Person",
        "preferred_language": "es", "usable_password": "true",
        "password1": "a long enough passphrase", "password2": "a long enough passphrase",
        "memberships-TOTAL_FORMS": "0", "memberships-INITIAL_FORMS": "0",
    })
    assert response.status_code == 302, response.content.decode()[:2000]
    user = User.objects.get(email="new.person@example.test")
    assert user.username == user.email and user.preferred_language == "es"
    assert user.check_password("a long enough passphrase")


def test_duplicate_email_is_a_field_error(client, superuser, patient_user, login):
    login(client, superuser)
    response = client.post(reverse("admin:accounts_user_add"), {
        "email": patient_user.email.upper(), "preferred_language": "en", "usable_password": "false",
        "memberships-TOTAL_FORMS": "0", "memberships-INITIAL_FORMS": "0",
    })
    assert response.status_code == 200
    assert "A user with this email already exists." in response.content.decode()


def test_org_admin_sees_only_their_organization(client, org_admin, network, other_network, patient_user,
                                                login):
    outsider = make_user(Role.PATIENT, other_network)
    login(client, org_admin)
    orgs = client.get(reverse("admin:accounts_organization_changelist")).content.decode()
    assert network.name in orgs and other_network.name not in orgs
    users = client.get(reverse("admin:accounts_user_changelist")).content.decode()
    assert patient_user.email in users and outsider.email not in users
    foreign = client.get(reverse("admin:accounts_user_change", args=[outsider.pk]))
    assert foreign.status_code == 302  # "does not exist" redirect, nothing shown
    other_org = client.get(reverse("admin:accounts_organization_change", args=[other_network.pk]))
    assert other_org.status_code == 302


def test_org_admin_adds_a_member_of_their_organization(client, org_admin, network, other_network, login):
    login(client, org_admin)
    data = {
        "email": "coord2@example.test", "preferred_language": "en", "usable_password": "false",
        "memberships-TOTAL_FORMS": "1", "memberships-INITIAL_FORMS": "0", "memberships-MIN_NUM_FORMS": "1",
        "memberships-0-organization": str(other_network.pk), "memberships-0-role": Role.COORDINATOR,
        "memberships-0-active": "on",
    }
    refused = client.post(reverse("admin:accounts_user_add"), data)
    assert refused.status_code == 200 and not User.objects.filter(email="coord2@example.test").exists()
    data["memberships-0-organization"] = str(network.pk)
    response = client.post(reverse("admin:accounts_user_add"), data)
    assert response.status_code == 302, response.content.decode()[:2000]
    membership = Membership.objects.get(user__email="coord2@example.test")
    assert membership.organization == network and membership.role == Role.COORDINATOR


def test_org_admin_cannot_edit_staff_or_shared_users(client, org_admin, network, other_network, login):
    staff = make_user(Role.COORDINATOR, network, is_staff=True)
    shared = make_user(Role.SPECIALIST, network)
    Membership.objects.create(user=shared, organization=other_network, role=Role.SPECIALIST)
    login(client, org_admin)
    for user in (staff, shared):
        page = client.get(reverse("admin:accounts_user_change", args=[user.pk])).content.decode()
        assert 'name="email"' not in page  # read-only view
        response = client.post(reverse("admin:accounts_user_change", args=[user.pk]),
                               {"email": "taken@example.test"})
        assert response.status_code == 403
    assert not User.objects.filter(email="taken@example.test").exists()


def test_org_admin_form_has_no_privilege_fields(client, org_admin, patient_user, login):
    login(client, org_admin)
    page = client.get(reverse("admin:accounts_user_change", args=[patient_user.pk])).content.decode()
    assert 'name="email"' in page
    assert 'name="is_superuser"' not in page and 'name="is_staff"' not in page


def test_org_admin_cannot_create_organizations(client, org_admin, login):
    login(client, org_admin)
    assert client.get(reverse("admin:accounts_organization_add")).status_code == 403


def test_other_organization_admin_does_not_leak(client, other_network, network, login):
    admin_b = make_user(Role.ORG_ADMIN, OrganizationFactory(name="Clinic B"), is_staff=True)
    login(client, admin_b)
    assert network.name not in client.get(reverse("admin:accounts_organization_changelist")).content.decode()


def test_org_admin_without_mfa_is_sent_to_mfa(client, org_admin):
    client.force_login(org_admin)
    response = client.get(reverse("admin:accounts_user_changelist"))
    assert response.status_code == 302 and response.url.startswith(reverse("accounts:mfa"))
