from django.db import migrations


def load_catalog(apps, schema_editor):
    from konsil.matching.catalog import sync

    sync(apps.get_model("matching", "Specialty"))


class Migration(migrations.Migration):
    dependencies = [("matching", "0001_initial")]
    operations = [migrations.RunPython(load_catalog, migrations.RunPython.noop)]
