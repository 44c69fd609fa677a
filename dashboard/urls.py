"""URLs of the dashboard app: the incident list (home page) and what hangs off it."""

from django.urls import path

from dashboard import views

app_name = "dashboard"

urlpatterns = [
    path("", views.incident_list, name="incidents"),
    path("incidents/live/", views.incident_list_live, name="incidents_live"),
    path("incidents/summary/", views.incident_summary, name="summary"),
    path("incidents/export.csv", views.incident_export, name="export"),
    path("incidents/<int:pk>/", views.incident_detail, name="detail"),
    path("incidents/<int:pk>/raw.json", views.incident_raw, name="raw"),
    path("tenants/", views.tenant_overview, name="tenants"),
]
