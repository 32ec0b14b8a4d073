"""A django-ninja API of the tests' project."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import NinjaAPI

from tokenguard_django.ninja import TokenGuardAuth, answer_refusals

api = NinjaAPI(urls_namespace="tokenguard-tests", auth=TokenGuardAuth())


@api.get("/me")
def me(request: HttpRequest) -> dict[str, Any]:
    return {"owner": request.auth.owner}  # type: ignore[attr-defined]


@api.get("/projects/{project}", auth=TokenGuardAuth("write", project_from="project"))
def project(request: HttpRequest, project: str) -> dict[str, Any]:
    return {"owner": request.auth.owner, "project": project}  # type: ignore[attr-defined]


@api.get("/async")
async def async_me(request: HttpRequest) -> dict[str, Any]:
    return {"owner": request.auth.owner}  # type: ignore[attr-defined]


@api.get("/public", auth=None)
def public(request: HttpRequest) -> dict[str, Any]:
    return {"public": True}


#: an API that answers refusals itself, for projects without TokenGuardMiddleware
bare_api = answer_refusals(NinjaAPI(urls_namespace="tokenguard-tests-bare", auth=TokenGuardAuth("write")))


@bare_api.get("/write")
def write(request: HttpRequest) -> dict[str, Any]:
    return {"owner": request.auth.owner}  # type: ignore[attr-defined]
