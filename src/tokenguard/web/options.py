"""Settings of the web layer, shared by both adapters (Flask reads them from TOKENGUARD_* keys)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from tokenguard.errors import ValidationError

_MOUNT = re.compile(r"(/[A-Za-z0-9._~!$&'()*+,;=:@%-]+)+")
_HEADER_NAME = re.compile(r"[A-Za-z0-9!#$%&'*+.^_`|~-]+")
_ENV_VAR = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")


@dataclass(frozen=True, slots=True)
class WebOptions:
    """What an admin may configure; validated once, at construction."""

    #: realm of the ``WWW-Authenticate`` challenge.
    realm: str = "api"
    #: header carrying ``Bearer <token>``.
    authorization_header: str = "Authorization"
    #: headers carrying the bare token.
    token_headers: tuple[str, ...] = ("Api-Token",)
    #: where the settings page and the management API are served.
    settings_path: str = "/settings/tokens"
    api_path: str = "/api/tokens"
    #: the shell snippet shown with a new secret: ``export {env_var}=…``.
    env_var: str = "API_TOKEN"
    #: let a bearer token with the management scope create tokens (off by default).
    allow_token_minting: bool = False
    #: name of the app, shown on the settings page.
    app_name: str = "API"
    #: where to send a visitor of the settings page who is not signed in (``?next=`` is added);
    #: ``None`` answers 401 with a short page instead.
    login_url: str | None = None
    #: largest request body the web layer reads; larger ones get 413.
    max_body_size: int = 64 * 1024
    #: the scope a bearer token needs to use the management API and introspection.
    management_scope: str = "management"
    #: how long a CSRF token stays valid, in seconds.
    csrf_max_age: int = 24 * 3600

    def __post_init__(self) -> None:
        for field, path in (("settings_path", self.settings_path), ("api_path", self.api_path)):
            if not isinstance(path, str) or not _MOUNT.fullmatch(path):
                raise ValidationError(
                    f"{field} must be an absolute path without a trailing slash, like /api/tokens",
                    field=field,
                )
        api, page = self.api_path, self.settings_path
        if api == page or api.startswith(page + "/") or page.startswith(api + "/"):
            raise ValidationError("settings_path and api_path must not contain one another",
                                  field="api_path")
        names = (self.authorization_header, *self.token_headers)
        if isinstance(self.token_headers, str) or not all(
            isinstance(n, str) and _HEADER_NAME.fullmatch(n) for n in names
        ):
            raise ValidationError("header names must be HTTP tokens, like Api-Token",
                                  field="token_headers")
        if not _ENV_VAR.fullmatch(self.env_var):
            raise ValidationError("env_var must be a shell variable name", field="env_var")
        if not isinstance(self.max_body_size, int) or self.max_body_size < 1024:
            raise ValidationError("max_body_size must be an int of at least 1024", field="max_body_size")
        if not isinstance(self.csrf_max_age, int) or self.csrf_max_age < 60:
            raise ValidationError("csrf_max_age must be at least 60 seconds", field="csrf_max_age")

    def mount_for(self, path: str) -> str | None:
        """``api_path`` or ``settings_path`` when ``path`` is that mount point or below it.

        Every request of the host app asks this: a path that starts with neither
        mount point is answered by one ``startswith``.
        """
        mounts = (self.api_path, self.settings_path)
        if not path.startswith(mounts):
            return None
        for mount in mounts:
            if path == mount or path.startswith(mount + "/"):
                return mount
        return None
