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
DESCRIPTION_LENGTH = 500
IP_LENGTH = 64
AGENT_LENGTH = 200


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
    #: what the token is for, in its owner's words.
    description = ExactCharField(max_length=DESCRIPTION_LENGTH, blank=True, default="")
    #: space-separated CIDR networks, sorted; empty: anywhere.
    allowed_networks = ExactTextField(blank=True, default="")
    last_used_ip = ExactCharField(max_length=IP_LENGTH, null=True, blank=True)
    last_used_agent = ExactCharField(max_length=AGENT_LENGTH, null=True, blank=True)
    #: after a rotation with a grace period: the digest of the replaced secret; never shown.
    previous_digest = ExactCharField(max_length=DIGEST_LENGTH, null=True, blank=True, db_index=True,
                                     editable=False)
    previous_valid_until = UTCDateTimeField(null=True, blank=True)

    class Meta:
        db_table = "tokenguard_token"
        ordering = ("created_at", "id")
        indexes = [
            # guard.expiring and guard.remind
            models.Index(fields=["expires_at"], name="tokenguard_token_expires"),
            # guard.unused: used before a date, or never used (NULL) and created before it
            models.Index(fields=["last_used_at", "created_at"], name="tokenguard_token_last_used"),
        ]
        verbose_name = "API token"
        verbose_name_plural = "API tokens"

    def __str__(self) -> str:
        return f"{self.name} ({self.id})"


class Owner(models.Model):
    """A row per owner: whether they are active (``deactivate_owner``), and the row creators of
    their tokens queue on (the per-owner limit)."""

    owner = ExactCharField(primary_key=True, max_length=MAX_OWNER_LENGTH)
    #: a database default too: the owner row is also inserted in SQL (MariaDB, see DjangoStore)
    active: models.BooleanField[bool, bool] = models.BooleanField(default=True, db_default=True)
    deactivated_at = UTCDateTimeField(null=True, blank=True)
    deactivated_by = ExactCharField(max_length=MAX_OWNER_LENGTH, null=True, blank=True)

    class Meta:
        db_table = "tokenguard_owner"
        verbose_name = "token owner"

    def __str__(self) -> str:
        return str(self.owner)


class Reminder(models.Model):
    """An expiry reminder sent: one per token and threshold (days), for the expiry it was sent for."""

    token_id = ExactCharField(max_length=ID_LENGTH)
    threshold: models.IntegerField[int, int] = models.IntegerField()
    expires_at = UTCDateTimeField()

    class Meta:
        db_table = "tokenguard_reminder"
        constraints = [models.UniqueConstraint(fields=["token_id", "threshold"],
                                               name="tokenguard_reminder_once")]

    def __str__(self) -> str:
        return f"{self.token_id} at {self.threshold} days"
