"""Settings of the web layer, shared by both adapters (Flask reads them from TOKENGUARD_* keys)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class WebOptions:
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
