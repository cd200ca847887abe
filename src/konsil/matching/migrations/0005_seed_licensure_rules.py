from django.db import migrations


def seed(apps, schema_editor):
    """Copy the shipped licensure files into the admin-editable table (rows an admin already has are kept)."""
    from konsil.matching import licensure

    rule_model = apps.get_model("matching", "LicensureRule")
    for kind, path in (("state", licensure.US_FILE), ("country", licensure.COUNTRIES_FILE)):
        for rule in licensure.read_rules(path, key=kind).values():
            rule_model.objects.get_or_create(kind=kind, code=rule.code, defaults={
                "name": rule.name, "direct_to_patient": rule.direct_to_patient, "imlc_member": rule.imlc_member,
                "source": rule.source, "as_of": rule.as_of, "notes": rule.notes})


class Migration(migrations.Migration):
    dependencies = [("matching", "0004_directory_licensure_batch")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
