from django.urls import path

from . import views

app_name = "contacts"

urlpatterns = [
    path("", views.lookup, name="lookup"),
    path("export.csv", views.export_csv, name="export_csv"),
    path("sync/", views.register_sync, name="register_sync"),
    path("<str:contact_id>/", views.contact_detail, name="detail"),
    path("<str:contact_id>/reveal/", views.contact_reveal, name="reveal"),
]
