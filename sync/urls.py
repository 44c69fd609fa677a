"""URLs of the sync app (namespace ``sync``)."""

from django.urls import path

from sync import views

app_name = "sync"

urlpatterns = [
    path("customers/<int:pk>/sync-now", views.sync_now, name="sync_now"),
]
