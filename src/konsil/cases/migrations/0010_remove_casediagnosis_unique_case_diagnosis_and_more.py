# Birth dates and diagnosis codes encrypted at rest, with keyed-hash (blind) indexes for exact matches (#10).

import konsil.core.fields
from django.db import migrations, models


def seal_existing(apps, schema_editor):
    """Values written in the clear before are sealed now, and their blind indexes computed."""
    from konsil.core.keys import reseal

    for name in ("Patient", "PatientIdentity", "CaseDiagnosis", "CodeSuggestion"):
        reseal(apps.get_model("cases", name))


class Migration(migrations.Migration):

    dependencies = [
        ('cases', '0009_patient_county'),
    ]

    operations = [
        migrations.RemoveConstraint(model_name='casediagnosis', name='unique_case_diagnosis'),
        migrations.RemoveConstraint(model_name='codesuggestion', name='unique_case_code_suggestion'),
        migrations.AddField(
            model_name='casediagnosis',
            name='code_index',
            field=konsil.core.fields.BlindIndexField(of=('code',)),
        ),
        migrations.AddField(
            model_name='codesuggestion',
            name='code_index',
            field=konsil.core.fields.BlindIndexField(of=('code',)),
        ),
        migrations.AddField(
            model_name='patient',
            name='birth_date_index',
            field=konsil.core.fields.BlindIndexField(of=('birth_date',)),
        ),
        migrations.AddField(
            model_name='patientidentity',
            name='birth_date_index',
            field=konsil.core.fields.BlindIndexField(of=('birth_date',)),
        ),
        migrations.AlterField(
            model_name='casediagnosis',
            name='code',
            field=konsil.core.fields.EncryptedCharField(plain_max_length=8, verbose_name='ICD-10-CM code'),
        ),
        migrations.AlterField(
            model_name='codesuggestion',
            name='code',
            field=konsil.core.fields.EncryptedCharField(plain_max_length=8, verbose_name='ICD-10-CM code'),
        ),
        migrations.AlterField(
            model_name='codesuggestion',
            name='matched',
            field=konsil.core.fields.EncryptedTextField(blank=True),
        ),
        migrations.AlterField(
            model_name='patient',
            name='birth_date',
            field=konsil.core.fields.EncryptedDateField(verbose_name='birth date'),
        ),
        migrations.AlterField(
            model_name='patientidentity',
            name='birth_date',
            field=konsil.core.fields.EncryptedDateField(verbose_name='birth date'),
        ),
        migrations.RunPython(seal_existing, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name='casediagnosis',
            constraint=models.UniqueConstraint(fields=('case', 'code_index'), name='unique_case_diagnosis'),
        ),
        migrations.AddConstraint(
            model_name='codesuggestion',
            constraint=models.UniqueConstraint(fields=('case', 'code_index'), name='unique_case_code_suggestion'),
        ),
    ]
