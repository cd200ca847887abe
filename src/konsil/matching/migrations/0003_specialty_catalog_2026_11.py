from django.db import migrations


def load_catalog(apps, schema_editor):
    from konsil.matching.catalog import sync

    sync(apps.get_model("matching", "Specialty"))


class Migration(migrations.Migration):
    """Catalog rows for every class of the triage model (podiatry, plastic surgery, sleep medicine...)."""

    dependencies = [("matching", "0002_specialty_catalog")]
    operations = [migrations.RunPython(load_catalog, migrations.RunPython.noop)]
