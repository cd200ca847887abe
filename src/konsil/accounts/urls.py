"""Sign-in, second factor and sign-out pages."""

from django.urls import path

from . import links, manage, passkey_views, signup, token_pages, views

app_name = "accounts"
urlpatterns = [
    path("login/", views.login_view, name="login"),
    path("mfa/", views.mfa_view, name="mfa"),
    path("mfa/recovery/", views.mfa_recovery_codes, name="mfa_recovery"),
    path("tokens/", token_pages.tokens_page, name="tokens"),
    # WebAuthn passkeys (accounts.passkeys): the page, then the JSON steps konsil/accounts/passkeys.js takes.
    path("passkeys/", passkey_views.page, name="passkeys"),
    path("passkeys/register/options/", passkey_views.register_options, name="passkey_register_options"),
    path("passkeys/register/", passkey_views.register, name="passkey_register"),
    path("passkeys/authenticate/options/", passkey_views.authenticate_options, name="passkey_auth_options"),
    path("passkeys/authenticate/", passkey_views.authenticate, name="passkey_auth"),
    path("logout/", views.logout_view, name="logout"),
    # Patient sign-up, e-mail verification, password reset, invitations (accounts.signup).
    path("signup/", signup.signup, name="signup"),
    path("signup/sent/", signup.signup_sent, name="signup_sent"),
    # Every single-use e-mailed link opens this page; the secret rides in the fragment (accounts.links).
    path("link/", links.link, name="link"),
    path("welcome/", signup.welcome, name="welcome"),
    path("password/reset/", signup.PasswordResetView.as_view(), name="password_reset"),
    path("password/reset/sent/", signup.PasswordResetDoneView.as_view(), name="password_reset_done"),
    path("password/reset/new/", links.password_reset_confirm, name="password_reset_confirm"),
    path("password/reset/done/", signup.PasswordResetCompleteView.as_view(), name="password_reset_complete"),
    path("invitations/", signup.invitations, name="invitations"),
    path("invitations/<uuid:pk>/revoke/", signup.invitation_revoke, name="invitation_revoke"),
    path("invitations/accept/", signup.invitation_accept, name="invitation_accept"),
    # Konsil's own admin pages for organization admins (Django's admin is for superusers only).
    path("manage/users/", manage.users, name="manage_users"),
    path("manage/users/new/", manage.user_new, name="manage_user_new"),
    path("manage/users/<uuid:pk>/", manage.user_detail, name="manage_user"),
    path("manage/users/<uuid:pk>/roles/<uuid:membership>/toggle/", manage.membership_toggle,
         name="manage_membership_toggle"),
]
