"""Cells gain a span (month, quarter, year) and pooled cells; the old cells are dropped, so the facts answer until
the next refresh builds every cell again (cube.rebuild)."""

from django.db import migrations, models


def forget_cells(apps, schema_editor):
    apps.get_model("analytics", "Cell").objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [
        ("analytics", "0002_cells"),
    ]

    operations = [
        migrations.RunPython(forget_cells, migrations.RunPython.noop),
        migrations.AddField(
            model_name="cell",
            name="span",
            field=models.CharField(default="month", max_length=7),
        ),
        migrations.AddField(
            model_name="cell",
            name="pooled",
            field=models.BooleanField(default=False),
        ),
    ]
