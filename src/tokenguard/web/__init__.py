"""The framework-neutral web layer shared by the Flask and ASGI adapters.

:class:`TokenWeb` serves the management API and the settings page;
:class:`RequestAuthenticator` protects an app's own endpoints: it reads the
credentials (:mod:`tokenguard.web.credentials`), checks scopes, and answers a
refusal with :func:`error_response`, the one function that turns an error into
a response. Adapters translate their requests to :class:`WebRequest` and copy
back :class:`WebResponse`.
"""

from tokenguard.errors import MissingCredentials
from tokenguard.web.answers import error_response, websocket_close
from tokenguard.web.app import TokenWeb
from tokenguard.web.auth import RequestAuthenticator
from tokenguard.web.credentials import CredentialReader, read_token
from tokenguard.web.http import WebRequest, WebResponse, signed_in_owner
from tokenguard.web.options import WebOptions

__all__ = [
    "CredentialReader",
    "MissingCredentials",
    "RequestAuthenticator",
    "TokenWeb",
    "WebOptions",
    "WebRequest",
    "WebResponse",
    "error_response",
    "read_token",
    "signed_in_owner",
    "websocket_close",
]
