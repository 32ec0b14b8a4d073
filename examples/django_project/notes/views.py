"""The notes API: read with a ``read`` token for the project, add with a ``write`` one."""

from __future__ import annotations

import json

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.http import require_http_methods

from tokenguard_django import get_guard
from tokenguard_django.decorators import require_scope

NOTES: dict[str, list[str]] = {}


@require_http_methods(["GET", "POST"])
@require_scope("read", project_from="project")
def notes(request: HttpRequest, project: str) -> HttpResponse:
    token = request.token  # type: ignore[attr-defined]
    if request.method == "GET":
        return JsonResponse({"project": project, "notes": NOTES.get(project, []), "owner": token.owner})
    # A check inside the view: refused, it is the same RFC 6750 answer (403 insufficient_scope).
    get_guard().require(token, "write", project=project)
    text = str(json.loads(request.body or b"{}").get("text", ""))[:500]
    NOTES.setdefault(project, []).append(text)
    return JsonResponse({"project": project, "added": text}, status=201)


def home(request: HttpRequest) -> HttpResponse:
    return JsonResponse({"settings_page": "/settings/tokens", "api": "/api/tokens",
                         "notes": "/notes/<project>", "admin": "/admin/"})
