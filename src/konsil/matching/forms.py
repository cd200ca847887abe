"""HTML forms of the matching pages (they parse; the services decide)."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from .importing import MAX_BYTES


class ImportForm(forms.Form):
    network = forms.ModelChoiceField(label=_("Provider network"), queryset=None, empty_label=None)
    fmt = forms.ChoiceField(label=_("Format"), choices=[("csv", _("CSV")), ("jsonl", _("JSON Lines"))],
                            widget=forms.RadioSelect, initial="csv")
    file = forms.FileField(label=_("File"), help_text=_("At most 5 MB; one specialist per row."))

    def __init__(self, *args, networks, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["network"].queryset = networks

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > MAX_BYTES:
            raise forms.ValidationError(_("The file is larger than 5 MB."))
        return upload
