from django.urls import path

from . import views
from .views.exports import contact_vcf, export_vcf, export_xlsx

app_name = "contacts"

urlpatterns = [
    path("", views.lookup, name="lookup"),
    path("export.csv", views.export_csv, name="export_csv"),
    path("export.xlsx", export_xlsx, name="export_xlsx"),
    path("export.vcf", export_vcf, name="export_vcf"),
    path("sync/", views.register_sync, name="register_sync"),
    path("<str:contact_id>/", views.contact_detail, name="detail"),
    path("<str:contact_id>/reveal/", views.contact_reveal, name="reveal"),
    path("<str:contact_id>/vcard.vcf", contact_vcf, name="vcard"),
]
