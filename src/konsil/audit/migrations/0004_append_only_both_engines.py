"""SQLite refuses UPDATE and DELETE on the audit trail too; on both engines the chain head never moves back."""

from django.db import migrations


def forwards(apps, schema_editor):
    from konsil.audit import dbguard

    dbguard.install(schema_editor.connection)


def backwards(apps, schema_editor):
    from konsil.audit import dbguard

    dbguard.uninstall(schema_editor.connection)


class Migration(migrations.Migration):
    dependencies = [("audit", "0003_keyed_chain")]
    operations = [migrations.RunPython(forwards, backwards)]
