"""Round 2: owners' state (deactivation), expiry reminders, and the tokens' new columns
(description, allowed networks, last client, rotation grace) with the indexes of
``expiring`` and ``unused``."""

from django.db import migrations, models

import tokenguard_django.fields


class Migration(migrations.Migration):
    dependencies = [("tokenguard_django", "0001_initial")]

    operations = [
        # the lock row per owner also says whether the owner is active
        migrations.RenameModel(old_name="OwnerLock", new_name="Owner"),
        migrations.AlterModelOptions(name="owner", options={"verbose_name": "token owner"}),
        migrations.AddField(model_name="owner", name="active",
                            field=models.BooleanField(db_default=True, default=True)),
        migrations.AddField(model_name="owner", name="deactivated_at",
                            field=tokenguard_django.fields.UTCDateTimeField(blank=True, null=True)),
        migrations.AddField(model_name="owner", name="deactivated_by",
                            field=tokenguard_django.fields.ExactCharField(blank=True, max_length=255,
                                                                          null=True)),
        migrations.CreateModel(
            name="Reminder",
            fields=[
                ("id", models.AutoField(auto_created=True, primary_key=True, serialize=False,
                                        verbose_name="ID")),
                ("token_id", tokenguard_django.fields.ExactCharField(max_length=64)),
                ("threshold", models.IntegerField()),
                ("expires_at", tokenguard_django.fields.UTCDateTimeField()),
            ],
            options={"db_table": "tokenguard_reminder"},
        ),
        migrations.AddConstraint(
            model_name="reminder",
            constraint=models.UniqueConstraint(fields=("token_id", "threshold"),
                                               name="tokenguard_reminder_once"),
        ),
        migrations.AddField(model_name="token", name="description",
                            field=tokenguard_django.fields.ExactCharField(blank=True, default="",
                                                                          max_length=500)),
        migrations.AddField(model_name="token", name="allowed_networks",
                            field=tokenguard_django.fields.ExactTextField(blank=True, default="")),
        migrations.AddField(model_name="token", name="last_used_ip",
                            field=tokenguard_django.fields.ExactCharField(blank=True, max_length=64,
                                                                          null=True)),
        migrations.AddField(model_name="token", name="last_used_agent",
                            field=tokenguard_django.fields.ExactCharField(blank=True, max_length=200,
                                                                          null=True)),
        migrations.AddField(model_name="token", name="previous_digest",
                            field=tokenguard_django.fields.ExactCharField(blank=True, db_index=True,
                                                                          editable=False, max_length=64,
                                                                          null=True)),
        migrations.AddField(model_name="token", name="previous_valid_until",
                            field=tokenguard_django.fields.UTCDateTimeField(blank=True, null=True)),
        migrations.AddIndex(model_name="token",
                            index=models.Index(fields=["expires_at"], name="tokenguard_token_expires")),
        migrations.AddIndex(model_name="token",
                            index=models.Index(fields=["last_used_at", "created_at"],
                                               name="tokenguard_token_last_used")),
    ]
