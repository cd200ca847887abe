"""Case pages."""

from django.urls import path

from . import emergency_views, list_views, views

app_name = "cases"
urlpatterns = [
    path("", list_views.mine, name="mine"),
    path("new/", views.new_case, name="new"),
    path("queue/", list_views.queue, name="queue"),
    path("program/", list_views.program, name="program"),
    path("notifications/", list_views.notifications, name="notifications"),
    path("notifications/<uuid:pk>/", list_views.notification_open, name="notification_open"),
    path("<uuid:pk>/", views.detail, name="detail"),
    path("<uuid:pk>/emergency/", emergency_views.break_glass, name="break_glass"),
    path("<uuid:pk>/intake/<int:step>/", views.intake, name="intake"),
    path("<uuid:pk>/actions/<slug:action>/", views.transition, name="transition"),
    path("<uuid:pk>/messages/", views.post_message, name="message"),
    path("<uuid:pk>/codes/", views.code_decision, name="code_decision"),
    path("<uuid:pk>/codes/refresh/", views.code_refresh, name="code_refresh"),
    path("<uuid:pk>/attachments/", views.upload, name="upload"),
    path("<uuid:pk>/attachments/<uuid:att>/", views.attachment, name="attachment"),
]
