"""Sign-in, second factor and sign-out pages."""

from django.urls import path

from . import manage, views

app_name = "accounts"
urlpatterns = [
    path("login/", views.login_view, name="login"),
    path("mfa/", views.mfa_view, name="mfa"),
    path("logout/", views.logout_view, name="logout"),
    # Konsil's own admin pages for organization admins (Django's admin is for superusers only).
    path("manage/users/", manage.users, name="manage_users"),
    path("manage/users/new/", manage.user_new, name="manage_user_new"),
    path("manage/users/<uuid:pk>/", manage.user_detail, name="manage_user"),
    path("manage/users/<uuid:pk>/roles/<uuid:membership>/toggle/", manage.membership_toggle,
         name="manage_membership_toggle"),
]
