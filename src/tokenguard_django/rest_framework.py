"""Django REST framework: ``TokenGuardAuthentication`` and ``HasScope("write")``.

::

    class Notes(APIView):
        authentication_classes = [TokenGuardAuthentication]
        permission_classes = [HasScope("write", project_from="project")]

``request.auth`` is the token's ``TokenInfo`` and ``request.user`` a
:class:`TokenUser` for its owner. Refusals carry the web layer's own RFC 6750
answer: a bad token is 401 ``error="invalid_token"``, a missing scope 403
``error="insufficient_scope"`` with its ``WWW-Authenticate`` challenge, and no
token at all 401 with the bare ``Bearer realm="…"`` challenge
(``authenticate_header``), in the browsable API too.

Schemas: DRF's own ``AutoSchema`` knows no security schemes, so
:class:`BearerSchemaGenerator` (``get_schema_view(generator_class=…)`` or
``manage.py generateschema --generator_class …``) adds the HTTP bearer scheme
(:meth:`TokenGuardAuthentication.get_security_definition`) and a security
requirement to each operation of a view that authenticates with it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from urllib.parse import urljoin

from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication
from rest_framework.permissions import BasePermission, OperationHolderMixin
from rest_framework.request import Request
from rest_framework.schemas.openapi import SchemaGenerator

from tokenguard.errors import TokenGuardError
from tokenguard.models import TokenInfo
from tokenguard.web.auth import REFUSALS, RequestAuthenticator, holds
from tokenguard.web.http import WebResponse
from tokenguard_django.registry import get_state
from tokenguard_django.translate import identify, remote

__all__ = ["BearerSchemaGenerator", "HasScope", "TokenGuardAuthentication", "TokenGuardRefusal", "TokenUser"]

#: the name of the bearer scheme in generated OpenAPI documents
SCHEME_NAME = "tokenguard"


class TokenGuardRefusal(exceptions.APIException):
    """A refusal as the web layer answers it: its status, ``WWW-Authenticate`` and JSON body.

    Not an ``AuthenticationFailed``: DRF would replace the challenge with the bare one.
    """

    def __init__(self, answer: WebResponse) -> None:
        self.status_code = answer.status
        self.auth_header = answer.header("WWW-Authenticate")
        retry = answer.header("Retry-After")
        self.wait = int(retry) if retry and retry.isdigit() else None
        body = json.loads(answer.body) if answer.body else {"error": "unauthorized"}
        super().__init__(detail=body)


def _refusal(authenticator: RequestAuthenticator, exc: TokenGuardError) -> TokenGuardRefusal:
    return TokenGuardRefusal(authenticator.respond(exc))


class TokenUser:
    """The owner of the token a request authenticated with (``request.user`` in DRF views)."""

    is_authenticated = True
    is_anonymous = False
    is_active = True
    is_staff = False
    is_superuser = False

    def __init__(self, token: TokenInfo) -> None:
        self.token = token
        self.pk = self.id = self.username = token.owner

    def __str__(self) -> str:
        return self.token.owner

    def __eq__(self, other: object) -> bool:
        return isinstance(other, TokenUser) and other.pk == self.pk

    def __hash__(self) -> int:
        return hash(self.pk)

    def get_username(self) -> str:
        return self.token.owner

    def has_perm(self, perm: str, obj: object = None) -> bool:
        return False


class TokenGuardAuthentication(BaseAuthentication):
    """``Authorization: Bearer <token>`` (or ``Api-Token``), verified by the project's guard."""

    def authenticate(self, request: Request) -> tuple[TokenUser, TokenInfo] | None:
        authenticator = get_state().web.authenticator
        try:
            info = identify(authenticator, request._request)
        except REFUSALS as exc:
            raise _refusal(authenticator, exc) from None
        return None if info is None else (TokenUser(info), info)

    def authenticate_header(self, request: Request) -> str:
        """The bare challenge of a 401 without credentials: ``Bearer realm="…"``."""
        authenticator = get_state().web.authenticator
        try:
            authenticator.authorize(None, ())
        except REFUSALS as exc:
            challenge = authenticator.respond(exc).header("WWW-Authenticate")
            if challenge:
                return challenge
        return "Bearer"  # pragma: no cover - the web layer always names its realm

    @classmethod
    def get_security_definition(cls) -> dict[str, Any]:
        """The OpenAPI security scheme of these tokens: HTTP bearer."""
        return {"type": "http", "scheme": "bearer",
                "description": "An API token, sent as `Authorization: Bearer <token>`."}


class HasScope(OperationHolderMixin, BasePermission):
    """``permission_classes = [HasScope("write", project_from="project")]``.

    The request must have authenticated with a token (``TokenGuardAuthentication``)
    that holds every scope and, with ``project_from`` (a URL keyword argument, or a
    callable taking the request and the view), the project.
    """

    def __init__(self, *scopes: str, project_from: str | Callable[..., str | None] | None = None) -> None:
        for scope in scopes:
            if not isinstance(scope, str):
                raise TypeError("HasScope takes scope names: HasScope('write')")
        self.scopes = scopes
        self._wanted = frozenset(scopes)  # as the scope check takes them: built once, not per request
        self.project_from = project_from

    def __call__(self) -> HasScope:
        """DRF instantiates each permission class: this one is configured already."""
        return self

    def has_permission(self, request: Request, view: Any) -> bool:
        info = request.auth if isinstance(request.auth, TokenInfo) else None
        if info is None:
            return False  # DRF answers 401 with the authenticator's challenge (or 403 if none)
        if self.project_from is None and holds(info, self._wanted):
            return True
        authenticator = get_state().web.authenticator
        try:
            project = self._project(request, view)
            authenticator.authorize(info, self._wanted, project, remote(request._request))
        except REFUSALS as exc:
            raise _refusal(authenticator, exc) from None
        return True

    def _project(self, request: Request, view: Any) -> str | None:
        if self.project_from is None:
            return None
        if callable(self.project_from):
            return self.project_from(request, view)
        value = getattr(view, "kwargs", {}).get(self.project_from)
        if value is None:
            raise LookupError(f"HasScope: the view has no argument {self.project_from!r}")
        return str(value)


class BearerSchemaGenerator(SchemaGenerator):
    """DRF's OpenAPI generator, naming the bearer scheme of views that use tokenguard."""

    def get_schema(self, request: Any = None, public: bool = False) -> Any:
        schema: Any = super().get_schema(request, public)
        if schema is None:
            return None
        components = schema.setdefault("components", {})
        components.setdefault("securitySchemes", {})[SCHEME_NAME] = \
            TokenGuardAuthentication.get_security_definition()
        # DRF's own walk of the views (its get_schema reads the same one)
        _, endpoints = getattr(self, "_get_paths_and_endpoints")(None if public else request)  # noqa: B009
        for path, method, view in endpoints:
            key = urljoin(self.url or "/", path.removeprefix("/"))  # as DRF keys its paths
            operation = schema.get("paths", {}).get(key, {}).get(method.lower())
            if operation is not None and any(isinstance(auth, TokenGuardAuthentication)
                                             for auth in view.get_authenticators()):
                operation.setdefault("security", []).append({SCHEME_NAME: []})
        return schema
