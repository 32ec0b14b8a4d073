"""The framework-neutral web layer shared by the Flask and ASGI adapters.

:class:`TokenWeb` serves the management API and the settings page;
:class:`RequestAuthenticator` protects an app's own endpoints. Adapters
translate their requests to :class:`WebRequest` and copy back :class:`WebResponse`.
"""

from tokenguard.web.app import TokenWeb
from tokenguard.web.auth import MissingCredentials, RequestAuthenticator
from tokenguard.web.http import WebRequest, WebResponse
from tokenguard.web.options import WebOptions

__all__ = [
    "MissingCredentials",
    "RequestAuthenticator",
    "TokenWeb",
    "WebOptions",
    "WebRequest",
    "WebResponse",
]
