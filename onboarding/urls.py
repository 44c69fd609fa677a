"""URLs of the onboarding app. ``callback`` is the fixed admin-consent redirect URI
(PORTAL_URL + /onboarding/callback/) registered in Entra ID."""

from django.urls import path

from onboarding import views

app_name = "onboarding"

urlpatterns = [
    path("settings/", views.settings_page, name="settings"),
    path("callback/", views.callback, name="callback"),
    path("l/<str:token>/", views.start, name="start"),
    path("l/<str:token>/consent/", views.consent, name="consent"),
]
