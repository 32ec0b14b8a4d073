"""DRF views of the tests' project."""

from __future__ import annotations

from typing import Any

from django.urls import path
from rest_framework.permissions import IsAuthenticated
from rest_framework.renderers import JSONOpenAPIRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.schemas import get_schema_view
from rest_framework.views import APIView

from tokenguard_django.rest_framework import BearerSchemaGenerator, HasScope, TokenGuardAuthentication


class Notes(APIView):
    authentication_classes = [TokenGuardAuthentication]
    permission_classes = [HasScope("write", project_from="project")]

    def get(self, request: Request, project: str) -> Response:
        return Response({"owner": request.auth.owner, "user": str(request.user), "project": project})


class Me(APIView):
    authentication_classes = [TokenGuardAuthentication]
    permission_classes = [IsAuthenticated]

    def get(self, request: Request) -> Response:
        return Response({"owner": request.user.pk, "scopes": sorted(request.auth.scopes)})

    def post(self, request: Request) -> Response:
        return Response({"posted": True})


class Composed(APIView):
    authentication_classes = [TokenGuardAuthentication]
    permission_classes = [IsAuthenticated & HasScope("read")]  # type: ignore[operator]

    def get(self, request: Request) -> Response:
        return Response({"ok": True})


class Public(APIView):
    authentication_classes: list[Any] = []
    permission_classes: list[Any] = []

    def get(self, request: Request) -> Response:
        return Response({"public": True})


urlpatterns = [
    path("notes/<str:project>", Notes.as_view()),
    path("me", Me.as_view()),
    path("composed", Composed.as_view()),
    path("public", Public.as_view()),
    path("schema", get_schema_view(title="notes", generator_class=BearerSchemaGenerator, public=True,
                                   authentication_classes=[], permission_classes=[],
                                   renderer_classes=[JSONOpenAPIRenderer])),
]
