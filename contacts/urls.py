from django.urls import path

from . import views
from .views.exports import contact_vcf, export_vcf, export_xlsx
from .views.preferences import list_columns

app_name = "contacts"

urlpatterns = [
    path("", views.lookup, name="lookup"),
    path("export.csv", views.export_csv, name="export_csv"),
    path("export.xlsx", export_xlsx, name="export_xlsx"),
    path("export.vcf", export_vcf, name="export_vcf"),
    path("sync/", views.register_sync, name="register_sync"),
    # Before the contact's pages: "<str:contact_id>/" would take "lists/" for a contact id.
    path("lists/", views.saved_lists, name="lists"),
    path("lists/save/", views.list_save, name="list_save"),
    path("lists/rename/", views.list_rename, name="list_rename"),
    path("lists/share/", views.list_share, name="list_share"),
    path("lists/delete/", views.list_delete, name="list_delete"),
    path("columns/", list_columns, name="columns"),
    path("<str:contact_id>/", views.contact_detail, name="detail"),
    path("<str:contact_id>/reveal/", views.contact_reveal, name="reveal"),
    path("<str:contact_id>/vcard.vcf", contact_vcf, name="vcard"),
]
