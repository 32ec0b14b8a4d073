"""The ``tokenguard_*`` tables on the project's own database.

A token row holds the HMAC digest of the secret, never the secret. Rows are
written through :class:`tokenguard_django.store.DjangoStore` (and so through the
guard, whose hooks and caches must see every change): the admin and the
management command go through the guard too.
"""

from __future__ import annotations

from django.db import models

from tokenguard.validation import MAX_OWNER_LENGTH
from tokenguard_django.fields import ExactCharField, ExactTextField, UTCDateTimeField

#: Lengths of the SQLAlchemy store's columns, so one schema fits both.
ID_LENGTH = 64
DIGEST_LENGTH = 64
NAME_LENGTH = 255
HINT_LENGTH = 32


class Token(models.Model):
    """One token: its public info and the HMAC-SHA256 digest of its secret."""

    id = ExactCharField(primary_key=True, max_length=ID_LENGTH)
    #: HMAC-SHA256 of the token under the guard's key (64 hex chars); never shown.
    digest = ExactCharField(max_length=DIGEST_LENGTH, unique=True, editable=False)
    owner = ExactCharField(max_length=MAX_OWNER_LENGTH, db_index=True)
    name = ExactCharField(max_length=NAME_LENGTH)
    #: space-separated and sorted: scope and project names never contain spaces.
    scopes = ExactTextField()
    projects = ExactTextField(blank=True)
    admin: models.BooleanField[bool, bool] = models.BooleanField(default=False)
    created_at = UTCDateTimeField()
    expires_at = UTCDateTimeField(null=True, blank=True)
    last_used_at = UTCDateTimeField(null=True, blank=True)
    revoked_at = UTCDateTimeField(null=True, blank=True)
    #: the prefix and the last 4 characters, for people to recognise the token.
    hint = ExactCharField(max_length=HINT_LENGTH)
    #: the token that minted this one through the API, if any.
    parent_id = ExactCharField(max_length=ID_LENGTH, null=True, blank=True)

    class Meta:
        db_table = "tokenguard_token"
        ordering = ("created_at", "id")
        verbose_name = "API token"
        verbose_name_plural = "API tokens"

    def __str__(self) -> str:
        return f"{self.name} ({self.id})"


class OwnerLock(models.Model):
    """A row per owner: creators of one owner's tokens queue on it (the per-owner limit)."""

    owner = ExactCharField(primary_key=True, max_length=MAX_OWNER_LENGTH)

    class Meta:
        db_table = "tokenguard_owner"
        verbose_name = "token owner lock"

    def __str__(self) -> str:
        return str(self.owner)
