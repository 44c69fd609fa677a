"""Root URL configuration. Each app owns its URLs under a namespace."""

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("accounts/", include("django.contrib.auth.urls")),
    path("admin/", admin.site.urls),
    path("onboarding/", include("onboarding.urls")),
    path("customers/", include("tenants.urls")),
    path("sync/", include("sync.urls")),
    path("", include("dashboard.urls")),
]
