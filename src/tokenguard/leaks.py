"""Leak response and look-ups past the cache: ``revoke_leaked``, ``revoke_by_value``, ``introspect``.

Mixed into ``TokenGuard``. Each asks the store, never the verification cache:
another process may have rotated the token (its old secret must not revoke the
new one) or deleted it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tokenguard.errors import InvalidToken, TokenNotFound
from tokenguard.models import TokenInfo
from tokenguard.stored_tokens import StoredTokens


class LeakResponse(StoredTokens):
    """What whoever holds a token, or finds it in public, can do with its value."""

    if TYPE_CHECKING:  # defined by TokenGuard
        def revoke(self, token_id: str, *, actor: str | None = None,
                   remote: str | None = None) -> TokenInfo: ...

    def revoke_leaked(self, token: object, *, source: str, url: str | None = None,
                      actor: str | None = None, remote: str | None = None) -> TokenInfo | None:
        """A token found in public (``source``: who found it, ``url``: where) is revoked and
        ``tokenguard_token_leaked`` fires; ``None`` for a value that is no token of this guard."""
        revoked = self.revoke_by_value(token, actor=actor, remote=remote)
        if revoked is not None:
            self.hook.tokenguard_token_leaked(info=revoked, source=source, url=url)
        return revoked

    def revoke_by_value(
        self, token: object, *, actor: str | None = None, remote: str | None = None,
    ) -> TokenInfo | None:
        """RFC 7009: whoever holds a token can kill it. Unknown tokens are ignored.

        The store is asked, never the verification cache: another process may have
        rotated the token (its old secret must not revoke the new one) or deleted it.
        """
        try:
            found = self._lookup_stored(token, remote)
            return self.revoke(found.id, actor=actor, remote=remote)
        except (InvalidToken, TokenNotFound):
            return None

    def introspect(self, token: object, *, remote: str | None = None) -> TokenInfo | None:
        """The info of a token in any state, as stored now, without recording a use; ``None`` if unknown."""
        try:
            return self._lookup_stored(token, remote)
        except InvalidToken:
            return None

    def _lookup_stored(self, token: object, remote: str | None) -> TokenInfo:
        """The token as the store holds it now, past the verification cache; ``InvalidToken`` if unknown.

        ``remote`` goes into the ``auth_failed`` event of an unknown or malformed value, and
        to ``before_authenticate`` first: an address the limiter blocks is refused here too.
        """
        self._check_attempt(remote)
        return self._lookup_store(self._canonical(token, remote), None, remote).info
