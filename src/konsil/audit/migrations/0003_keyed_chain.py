"""The chain becomes keyed (HMAC-SHA-256): events already written keep their plain SHA-256 and say so."""

from django.db import migrations, models


def first_checkpoint(apps, schema_editor):
    """An existing trail gets its first signed checkpoint now: its unkeyed events can no longer grow or change."""
    AuditEvent = apps.get_model("audit", "AuditEvent")
    if AuditEvent.objects.using(schema_editor.connection.alias).exists():
        from konsil.audit import checkpoints

        checkpoints.write()


class Migration(migrations.Migration):
    dependencies = [("audit", "0002_append_only_trigger")]
    operations = [
        migrations.AddField(
            model_name="auditevent", name="alg",
            field=models.CharField(choices=[("hmac-sha256", "HMAC-SHA-256"),
                                            ("sha256", "SHA-256 (unkeyed, before 2026-12)")],
                                   default="sha256", max_length=16),
        ),
        migrations.AlterField(
            model_name="auditevent", name="alg",
            field=models.CharField(choices=[("hmac-sha256", "HMAC-SHA-256"),
                                            ("sha256", "SHA-256 (unkeyed, before 2026-12)")],
                                   default="hmac-sha256", max_length=16),
        ),
        migrations.AlterModelOptions(name="auditevent", options={"base_manager_name": "objects",
                                                                 "ordering": ["seq"]}),
        migrations.RunPython(first_checkpoint, migrations.RunPython.noop),
    ]
