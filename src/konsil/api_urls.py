"""REST API v1: one router over every app's viewsets."""

from django.urls import path
from rest_framework.routers import DefaultRouter

urlpatterns: list = []
router = DefaultRouter()
urlpatterns += router.urls
