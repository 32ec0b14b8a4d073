"""The OpenAPI 3.1 description of the management API, served at ``{api_path}/openapi.json``."""

from __future__ import annotations

from typing import Any

from tokenguard.guard import TokenGuard
from tokenguard.validation import MAX_DESCRIPTION_LENGTH, MAX_NAME_LENGTH, MAX_NETWORKS, MAX_PROJECTS
from tokenguard.web.forms import MAX_EXPIRY_DAYS
from tokenguard.web.options import WebOptions

_JSON = "application/json"
_FORM = "application/x-www-form-urlencoded"
_EXPIRES_AT = "RFC 3339 date-time, or a date (valid through that day, UTC)"
_TIME = {"type": ["string", "null"], "format": "date-time"}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _content(schema: dict[str, Any], media: str = _JSON) -> dict[str, Any]:
    return {"content": {media: {"schema": schema}}}


def _errors(*statuses: int) -> dict[str, Any]:
    text = {400: "Invalid request: `field` names the culprit", 401: "Authentication required",
            403: "Not allowed (scope, can_manage or CSRF)", 404: "No such token for this owner",
            409: "Token limit reached or id taken", 413: "Body too large",
            503: "Token storage unavailable"}
    return {str(s): {"description": text[s], **_content(_ref("Error"))} for s in statuses}


def _schemas(guard: TokenGuard) -> dict[str, Any]:
    scope = {"type": "string", "enum": list(guard.scopes.order)}
    projects = {"type": "array", "maxItems": MAX_PROJECTS,
                "items": {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9_.:/-]{0,63}$"}}
    name = {"type": "string", "minLength": 1, "maxLength": MAX_NAME_LENGTH}
    description = {"type": ["string", "null"], "maxLength": MAX_DESCRIPTION_LENGTH,
                   "description": "What the token is for; null or \"\" for none"}
    networks = {"type": ["array", "null"], "maxItems": MAX_NETWORKS,
                "description": "CIDR networks (IPv4, IPv6) the token may be used from; "
                               "empty or null: anywhere",
                "items": {"type": "string", "examples": ["203.0.113.0/24", "2001:db8::/32"]}}
    grace = {"oneOf": [{"type": "string", "enum": ["none", "1h", "24h", "7d"]},
                       {"type": "integer", "minimum": 0, "maximum": MAX_EXPIRY_DAYS * 86400},
                       {"type": "null"}],
             "description": "How long the old secret keeps working (seconds, or a named span); "
                            "never past the token's expiry. none, 0 or null: it stops at once"}
    expiry_days = {"type": ["integer", "null"], "minimum": 1, "maximum": MAX_EXPIRY_DAYS}
    return {
        "TokenInfo": {"type": "object", "required": ["id", "name", "owner", "scopes", "status"],
                      "properties": {
                          "id": {"type": "string"}, "name": {"type": "string"},
                          "owner": {"type": "string"}, "permission": {"type": "string"},
                          "scopes": {"type": "array", "items": {"type": "string"}},
                          "projects": {"type": "array", "items": {"type": "string"}},
                          "admin": {"type": "boolean"},
                          "status": {"type": "string", "enum": ["active", "revoked", "expired"]},
                          "hint": {"type": "string"}, "created_at": {"type": "string", "format": "date-time"},
                          "expires_at": _TIME, "last_used_at": _TIME, "revoked_at": _TIME,
                          "parent_id": {"type": ["string", "null"]},
                          "description": {"type": "string"},
                          "allowed_networks": {"type": "array", "items": {"type": "string"}},
                          "last_used_ip": {"type": ["string", "null"]},
                          "last_used_agent": {"type": ["string", "null"]}}},
        "TokenList": {"type": "object", "required": ["tokens"], "properties": {
            "tokens": {"type": "array", "items": _ref("TokenInfo")},
            "max_tokens": {"type": ["integer", "null"]}, "policy": _ref("Policy")}},
        "Policy": {"type": "object", "description": "What the caller may create (tokenguard.web.policy)",
                   "properties": {
                       "max_lifetime_days": {"type": ["number", "null"]},
                       "default_lifetime_days": {"type": ["number", "null"]},
                       "never_expires": {"type": "boolean",
                                         "description": "Whether expires_in_days may be null"},
                       "max_tokens_per_owner": {"type": ["integer", "null"]},
                       "permission_levels": {"type": "array", "items": scope}}},
        "AdminTokenList": {"type": "object", "required": ["tokens", "total", "page", "pages"],
                           "properties": {
                               "tokens": {"type": "array", "items": _ref("TokenInfo")},
                               "total": {"type": "integer"}, "page": {"type": "integer"},
                               "pages": {"type": "integer"}, "per_page": {"type": "integer"}}},
        "Owner": {"type": "object", "required": ["owner", "active"], "properties": {
            "owner": {"type": "string"}, "active": {"type": "boolean"},
            "deactivated_at": _TIME, "deactivated_by": {"type": ["string", "null"]},
            "tokens": {"type": "integer"}, "active_tokens": {"type": "integer"}}},
        "OwnerChange": {"type": "object", "required": ["owner", "active"], "properties": {
            "owner": {"type": "string"}, "active": {"type": "boolean"},
            "revoked": {"type": "integer", "description": "deactivate: the tokens it revoked"},
            "reactivated": {"type": "boolean",
                            "description": "reactivate: false when the owner was active already"}}},
        "IssuedToken": {"type": "object", "required": ["token", "info"], "properties": {
            "token": {"type": "string", "description": "The secret, shown this once."},
            "info": _ref("TokenInfo")}},
        "CreateToken": {"type": "object", "required": ["name"], "additionalProperties": False,
                        "properties": {
                            "name": name, "scopes": {"type": "array", "items": scope, "minItems": 1},
                            "projects": projects,
                            "id": {"type": "string", "pattern": "^[a-z0-9_-]{1,64}$"},
                            "expires_in_days": expiry_days,
                            "expires_at": {"type": ["string", "null"], "description": _EXPIRES_AT},
                            "description": description, "allowed_networks": networks}},
        "UpdateToken": {"type": "object", "additionalProperties": False,
                        "properties": {"name": name, "projects": projects, "description": description,
                                       "allowed_networks": networks}},
        "Rotate": {"type": "object", "additionalProperties": False, "properties": {"grace": grace}},
        "SelfRotate": {"type": "object", "additionalProperties": False, "properties": {
            "grace": grace, "expires_in_days": {
                **expiry_days, "description": "A new lifetime, within max_lifetime and the expiry of "
                                              "the token that minted this one; absent: kept"}}},
        "SecretScanningMatch": {"type": "object", "required": ["token"], "properties": {
            "token": {"type": "string"}, "type": {"type": "string"}, "url": {"type": "string"},
            "source": {"type": "string"}}},
        "SecretScanningLabel": {"type": "object", "required": ["token_hash", "token_type", "label"],
                                "properties": {
                                    "token_hash": {"type": "string", "description": "SHA-256, hex"},
                                    "token_type": {"type": "string"},
                                    "label": {"type": "string",
                                              "enum": ["true_positive", "false_positive"]}}},
        "TokenValue": {"type": "object", "required": ["token"],
                       "properties": {"token": {"type": "string"},
                                      "token_type_hint": {"type": "string"}}},
        "Introspection": {"type": "object", "required": ["active"], "properties": {
            "active": {"type": "boolean"}, "scope": {"type": "string"},
            "client_id": {"type": "string"}, "username": {"type": "string"}, "sub": {"type": "string"},
            "token_type": {"type": "string"}, "exp": {"type": "integer"}, "iat": {"type": "integer"},
            "jti": {"type": "string"}}},
        "Error": {"type": "object", "required": ["error"], "properties": {
            "error": {"type": "string"}, "error_description": {"type": "string"},
            "field": {"type": "string"}, "scope": {"type": "string"}}},
    }


def _op(summary: str, responses: dict[str, Any], body: str | None = None,
        security: list[dict[str, list[str]]] | None = None) -> dict[str, Any]:
    operation: dict[str, Any] = {"summary": summary, "responses": responses}
    if body == "token":
        operation["requestBody"] = {"required": True, "content": {
            _FORM: {"schema": _ref("TokenValue")}, _JSON: {"schema": _ref("TokenValue")}}}
    elif body == "SecretScanning":
        operation["requestBody"] = {"required": True, **_content(
            {"type": "array", "items": _ref("SecretScanningMatch")})}
    elif body is not None:
        operation["requestBody"] = {"required": body == "CreateToken", **_content(_ref(body))}
    if security is not None:
        operation["security"] = security
    return operation


def _paths(root: str, secret_scanning: bool = False) -> dict[str, Any]:
    one = {"200": {"description": "The token", **_content(_ref("TokenInfo"))}}
    issued = {"201": {"description": "The new secret (shown once) and the token",
                      **_content(_ref("IssuedToken"))}}
    id_param = [{"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}]
    paths = {
        root: {
            "get": _op("List the caller's tokens", {"200": {
                "description": "The tokens; a signed-in browser also gets X-CSRF-Token",
                "headers": {"X-CSRF-Token": {"schema": {"type": "string"}}},
                **_content(_ref("TokenList"))}, **_errors(401, 403, 503)}),
            "post": _op("Create a token", {**issued, **_errors(400, 401, 403, 409, 413, 503)},
                        "CreateToken"),
        },
        f"{root}/{{id}}": {
            "parameters": id_param,
            "get": _op("Get a token", {**one, **_errors(401, 403, 404, 503)}),
            "patch": _op("Rename a token or change its projects",
                         {**one, **_errors(400, 401, 403, 404, 503)}, "UpdateToken"),
            "delete": _op("Delete a token", {"204": {"description": "Deleted"},
                                             **_errors(401, 403, 404, 503)}),
        },
        f"{root}/{{id}}/revoke": {"parameters": id_param, "post": _op(
            "Revoke a token", {**one, **_errors(401, 403, 404, 503)})},
        f"{root}/{{id}}/reapprove": {"parameters": id_param, "post": _op(
            "Re-approve a revoked token before it expires", {**one, **_errors(400, 401, 403, 404, 503)})},
        f"{root}/{{id}}/rotate": {"parameters": id_param, "post": _op(
            "Issue a new secret; the old one stops working at once or after the grace period",
            {**issued, **_errors(400, 401, 403, 404, 503)}, "Rotate")},
        f"{root}/self/rotate": {"post": _op(
            "The presented token rotates itself (no management scope needed); a browser session "
            "is 400", {**issued, **_errors(400, 401, 403, 503)}, "SelfRotate",
            security=[{"bearer": []}, {"apiToken": []}])},
        f"{root}/openapi.json": {"get": _op("This document", {"200": {"description": "OpenAPI 3.1"}},
                                            security=[])},
        f"{root}/revoke": {"post": _op("RFC 7009: revoke a token by its value; always 200",
                                       {"200": {"description": "Revoked, or unknown"},
                                        **_errors(400, 503)}, "token", security=[])},
        f"{root}/introspect": {"post": _op(
            "RFC 7662: is this token active? Needs the management scope",
            {"200": {"description": "Introspection", **_content(_ref("Introspection"))},
             **_errors(400, 401, 403, 503)}, "token",
            security=[{"bearer": []}, {"apiToken": []}])},
    }
    paths.update(_admin_paths(root))
    if secret_scanning:
        paths[f"{root}/secret-scanning"] = {"post": _op(
            "GitHub secret-scanning partner endpoint: revoke reported tokens of ours. Signed with "
            "the Github-Public-Key-Identifier and Github-Public-Key-Signature headers",
            {"200": {"description": "Each match labelled", **_content(
                {"type": "array", "items": _ref("SecretScanningLabel")})},
             "401": {"description": "Missing or bad signature; nothing done", **_content(_ref("Error"))},
             **_errors(400, 413, 503)}, "SecretScanning", security=[])}
    return paths


#: the filters of ``GET {api_path}/admin/tokens`` (tokenguard.web.admin.InventoryQuery).
_ADMIN_FILTERS = (
    ("owner", {"type": "string"}, "Only this owner's tokens"),
    ("status", {"type": "string", "enum": ["active", "revoked", "expired"]}, "Only tokens in this state"),
    ("scope", {"type": "string"}, "Only tokens with this permission"),
    ("project", {"type": "string"}, "Only tokens of this project"),
    ("expiring_within_days", {"type": "integer", "minimum": 0}, "Active tokens expiring within N days"),
    ("unused_for_days", {"type": "integer", "minimum": 0}, "Tokens not used for N days (or never)"),
    ("sort", {"type": "string"}, "created_at, name, owner, expires_at or last_used_at; a leading - "
                                 "sorts descending"),
    ("page", {"type": "integer", "minimum": 1}, "The page, of per_page tokens"),
)


def _admin_paths(root: str) -> dict[str, Any]:
    """``{api_path}/admin/…``: every owner's tokens, for callers ``can_administer`` lets in."""
    admin: list[dict[str, list[str]]] = [{"bearer": []}, {"apiToken": []}, {}]
    not_admin = {"403": {"description": "Not an administrator (can_administer), or CSRF",
                         **_content(_ref("Error"))}}
    id_param = [{"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}]
    owner_param = [{"name": "owner", "in": "path", "required": True, "schema": {"type": "string"}}]
    changed = {"200": {"description": "The owner's new state", **_content(_ref("OwnerChange"))},
               **_errors(400, 401), **not_admin, **_errors(503)}
    listing = _op("Every owner's tokens, filtered, sorted and in pages", {
        "200": {"description": "One page of tokens", **_content(_ref("AdminTokenList"))},
        **_errors(400, 401), **not_admin, **_errors(503)}, security=admin)
    listing["parameters"] = [{"name": name, "in": "query", "required": False, "schema": schema,
                              "description": text} for name, schema, text in _ADMIN_FILTERS]
    return {
        f"{root}/admin/tokens": {"get": listing},
        f"{root}/admin/tokens/{{id}}": {"parameters": id_param, "delete": _op(
            "Delete any owner's token (audited with the admin as actor)",
            {"204": {"description": "Deleted"}, **_errors(401), **not_admin, **_errors(404, 503)},
            security=admin)},
        f"{root}/admin/tokens/{{id}}/revoke": {"parameters": id_param, "post": _op(
            "Revoke any owner's token (audited with the admin as actor)",
            {"200": {"description": "The token", **_content(_ref("TokenInfo"))}, **_errors(401),
             **not_admin, **_errors(404, 503)}, security=admin)},
        f"{root}/admin/owners/{{owner}}": {"parameters": owner_param, "get": _op(
            "An owner's state and token counts",
            {"200": {"description": "The owner", **_content(_ref("Owner"))}, **_errors(400, 401),
             **not_admin, **_errors(503)}, security=admin)},
        f"{root}/admin/owners/{{owner}}/deactivate": {"parameters": owner_param, "post": _op(
            "Deactivate an owner: every token of theirs is revoked, and none is created, "
            "re-approved or rotated until reactivated", changed, security=admin)},
        f"{root}/admin/owners/{{owner}}/reactivate": {"parameters": owner_param, "post": _op(
            "Reactivate an owner; no token is revived", changed, security=admin)},
    }


def document(guard: TokenGuard, options: WebOptions, prefix: str = "") -> dict[str, Any]:
    """A complete OpenAPI 3.1 document; paths are absolute below ``prefix`` (the app's mount)."""
    header = options.token_headers[0] if options.token_headers else options.authorization_header
    doc: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {"title": f"{options.app_name} API tokens", "version": "1",
                 "description": "Manage API tokens. Callers are a signed-in browser session (writes "
                                "need the X-CSRF-Token header) or a bearer token with the "
                                f"'{options.management_scope}' scope."},
        "paths": _paths(options.api_path, options.secret_scanning),
        "components": {
            "schemas": _schemas(guard),
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer",
                           "description": f"Authorization: Bearer <token> with the "
                                          f"'{options.management_scope}' scope"},
                "apiToken": {"type": "apiKey", "in": "header", "name": header},
            },
        },
        "security": [{"bearer": []}, {"apiToken": []}, {}],
    }
    if prefix:
        doc["servers"] = [{"url": prefix}]
    return doc
