"""URLs of the tenants app (mounted at /customers/)."""

from django.urls import path

from tenants import views

app_name = "tenants"

urlpatterns = [
    path("", views.customer_list, name="list"),
    path("new/", views.customer_create, name="create"),
    path("<int:pk>/", views.customer_detail, name="detail"),
    path("<int:pk>/edit/", views.customer_edit, name="edit"),
    path("<int:pk>/recheck/", views.customer_recheck, name="recheck"),
    path("<int:pk>/link/", views.customer_new_link, name="new_link"),
    path("<int:pk>/connect/", views.customer_connect, name="connect"),
    path("<int:pk>/offboard/", views.customer_offboard, name="offboard"),
]
