from django.db import migrations

import konsil.core.fields


class Migration(migrations.Migration):
    """Reasons kept as message keys and parameters too, worded in each reader's language (issue #17). Older rows
    keep their text only: triage.reasons.render shows that text (tolerant rendering), so nothing is rewritten."""

    dependencies = [
        ('triage', '0004_encrypted_summaries'),
    ]

    operations = [
        migrations.AddField(
            model_name='triageproposal',
            name='reasons_data',
            field=konsil.core.fields.EncryptedJSONField(blank=True, default=list),
        ),
    ]
