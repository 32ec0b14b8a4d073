from django.contrib import admin
from django.urls import include, path

from notes import views

urlpatterns = [
    path("", views.home),
    path("admin/", admin.site.urls),
    path("notes/<str:project>", views.notes),
    # the settings page (/settings/tokens) and the management API (/api/tokens)
    path("", include("tokenguard_django.urls")),
]
