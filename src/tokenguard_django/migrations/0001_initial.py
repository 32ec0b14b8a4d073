"""The ``tokenguard_token`` and ``tokenguard_owner`` tables."""

from django.db import migrations, models

import tokenguard_django.fields


class Migration(migrations.Migration):
    initial = True

    dependencies = []

    operations = [
        migrations.CreateModel(
            name="OwnerLock",
            fields=[
                ("owner", tokenguard_django.fields.ExactCharField(max_length=255, primary_key=True,
                                                                  serialize=False)),
            ],
            options={
                "verbose_name": "token owner lock",
                "db_table": "tokenguard_owner",
            },
        ),
        migrations.CreateModel(
            name="Token",
            fields=[
                ("id", tokenguard_django.fields.ExactCharField(max_length=64, primary_key=True,
                                                               serialize=False)),
                ("digest", tokenguard_django.fields.ExactCharField(editable=False, max_length=64,
                                                                   unique=True)),
                ("owner", tokenguard_django.fields.ExactCharField(db_index=True, max_length=255)),
                ("name", tokenguard_django.fields.ExactCharField(max_length=255)),
                ("scopes", tokenguard_django.fields.ExactTextField()),
                ("projects", tokenguard_django.fields.ExactTextField(blank=True)),
                ("admin", models.BooleanField(default=False)),
                ("created_at", tokenguard_django.fields.UTCDateTimeField()),
                ("expires_at", tokenguard_django.fields.UTCDateTimeField(blank=True, null=True)),
                ("last_used_at", tokenguard_django.fields.UTCDateTimeField(blank=True, null=True)),
                ("revoked_at", tokenguard_django.fields.UTCDateTimeField(blank=True, null=True)),
                ("hint", tokenguard_django.fields.ExactCharField(max_length=32)),
                ("parent_id", tokenguard_django.fields.ExactCharField(blank=True, max_length=64,
                                                                      null=True)),
            ],
            options={
                "verbose_name": "API token",
                "verbose_name_plural": "API tokens",
                "db_table": "tokenguard_token",
                "ordering": ("created_at", "id"),
            },
        ),
    ]
