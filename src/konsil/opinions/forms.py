"""Opinion forms: render the structured opinion; the services validate it (one source of truth)."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from konsil.cases.forms import MessageForm
from konsil.core.widgets import DateInput

from .models import Confidence, DiagnosisVerdict, TreatmentVerdict
from .services import CONTENT_FIELDS

TEXT_FIELDS = tuple(name for name in CONTENT_FIELDS if name != "answers")


TO_SIGN = _("required to sign")  # a draft saves without it; services.check_complete asks for it at signing
WHEN_NEEDED = _("when needed")


def _text(label, rows: int = 4, help_text: str = "", condition=None):
    field = forms.CharField(label=label, required=False, strip=False, help_text=help_text,
                            widget=forms.Textarea(attrs={"rows": rows}))
    field.condition = condition
    return field


def _choice(label, choices):
    field = forms.CharField(label=label, required=False, widget=forms.RadioSelect(choices=choices))
    field.condition = TO_SIGN
    return field


def answer_name(question) -> str:
    return f"answer_{question.pk}"


class ServiceForm(forms.Form):
    """Fields that do no validation of their own: a service validates, `show_errors` shows its verdict."""

    def show_errors(self, errors: dict) -> None:
        """Attach a service's {field: [messages]}; names the form lacks become form-level errors."""
        if not self.is_bound:
            raise ValueError("bind the form before attaching errors")
        self.is_valid()  # prepares cleaned_data; fields never fail on their own
        for name, msgs in (errors or {}).items():
            for field in self._fields_for(name):
                self.add_error(field, list(msgs))

    def _fields_for(self, name: str) -> list:
        return [name if name in self.fields else None]


class VerdictOnlyForm(ServiceForm):
    """Fields marked required for the reader; only the service's verdict is shown."""

    def show_errors(self, errors: dict) -> None:
        self.is_valid()
        self._errors.clear()  # the fields' own checks are not shown: the service validated
        super().show_errors(errors)


class ShareForm(VerdictOnlyForm):

    recipient_name = forms.CharField(label=_("Physician's name"), max_length=200,
                                     widget=forms.TextInput(attrs={"autocomplete": "off"}))
    recipient_email = forms.CharField(label=_("Physician's email"),
                                      widget=forms.EmailInput(attrs={"autocomplete": "off"}))
    days = forms.TypedChoiceField(label=_("Access ends after"), coerce=int, initial=14,
                                  choices=[(7, _("7 days")), (14, _("14 days")), (30, _("30 days"))])
    language = forms.ChoiceField(label=_("Language of the e-mail"), choices=settings.LANGUAGES,
                                 initial=settings.LANGUAGE_CODE,
                                 help_text=_("The physician's language. The report page follows their browser."))


class ProofForm(VerdictOnlyForm):
    """The treating physician proves who they are: the e-mailed code, or the patient's date of birth."""

    code = forms.CharField(label=_("Code from the email"), max_length=12,
                           widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}))
    birth_date = forms.CharField(label=_("Patient's date of birth"),
                                 widget=DateInput(attrs={"autocomplete": "off"}))


class LetterheadForm(forms.Form):
    """The network's letterhead on its reports; the logo is re-encoded as PNG (nothing of the upload is kept)."""

    display_name = forms.CharField(label=_("Name on the report"), max_length=200)
    address = forms.CharField(label=_("Address"), required=False, max_length=500,
                              widget=forms.Textarea(attrs={"rows": 3}))
    phone = forms.CharField(label=_("Phone"), required=False, max_length=40)
    email = forms.EmailField(label=_("Email"), required=False)
    website = forms.URLField(label=_("Website"), required=False, max_length=200, assume_scheme="https")
    logo = forms.FileField(label=_("Logo (PNG or JPEG, up to 1 MB)"), required=False)
    remove_logo = forms.BooleanField(label=_("Remove the logo"), required=False)

    MAX_LOGO = 1024 * 1024

    def clean_logo(self):
        upload = self.cleaned_data.get("logo")
        if not upload:
            return ""
        if upload.size > self.MAX_LOGO:
            raise forms.ValidationError(_("The logo must be 1 MB or smaller."))
        import base64
        import io

        from PIL import Image, UnidentifiedImageError

        try:
            with Image.open(upload) as image:
                if image.format not in ("PNG", "JPEG"):
                    raise forms.ValidationError(_("Upload a PNG or JPEG image."))
                if image.width * image.height > 25_000_000:
                    raise forms.ValidationError(_("The image is too large."))
                image.thumbnail((1200, 400))
                out = io.BytesIO()
                image.convert("RGBA").save(out, format="PNG", optimize=True)
        except (UnidentifiedImageError, OSError, Image.DecompressionBombError):
            raise forms.ValidationError(_("Upload a PNG or JPEG image.")) from None
        return base64.b64encode(out.getvalue()).decode()


class OpinionForm(ServiceForm):
    """The opinion's fields plus one answer per patient question (`answer_<question uuid>`).

    `opinions.services` validates; `show_errors` puts an "answers" error on each empty answer.
    """

    diagnosis_verdict = _choice(_("Diagnosis verdict"), DiagnosisVerdict.choices)
    revised_diagnosis = forms.CharField(
        label=_("Revised ICD-10-CM code"), required=False,
        help_text=_("Required when the diagnosis is refined or changed, e.g. I25.110."),
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false", "size": 10}),
    )
    revised_diagnosis.condition = WHEN_NEEDED
    diagnosis_comment = _text(_("Comment on the diagnosis"), rows=3)
    treatment_verdict = _choice(_("Treatment verdict"), TreatmentVerdict.choices)
    treatment_recommendation = _text(_("Recommendation"), condition=WHEN_NEEDED,
                                     help_text=_("Required unless you agree with the proposed treatment."))
    further_tests = _text(_("Recommended further tests"), rows=3)
    narrative = _text(_("Narrative"), rows=8, condition=TO_SIGN)
    confidence = _choice(_("Confidence"), Confidence.choices)

    def __init__(self, *args, questions=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.questions = list(questions)
        for question in self.questions:
            self.fields[answer_name(question)] = _text(question.text, rows=3, condition=TO_SIGN)

    @classmethod
    def for_opinion(cls, opinion, questions, *, bound: bool = False, **kwargs):
        """A form showing `opinion` (None: empty); `bound` so that errors can be attached to it."""
        values = initial_from(opinion, questions)
        if bound:
            return cls(data=values, initial=values, questions=questions, **kwargs)
        return cls(initial=values, questions=questions, **kwargs)

    def answer_fields(self):
        return [self[answer_name(q)] for q in self.questions]

    def opinion_fields(self):
        return [self[name] for name in TEXT_FIELDS]

    def _fields_for(self, name: str) -> list:
        if name != "answers":
            return super()._fields_for(name)
        names = [answer_name(q) for q in self.questions]
        empty = [name for name in names if not str(self.data.get(name) or "").strip()]
        return empty or [None]


class AmendForm(OpinionForm):
    """An amendment: the reason plus the opinion fields, prefilled from the latest signed version."""

    reason = _text(_("Reason for the amendment"), rows=3)

    field_order = ["reason"]


def initial_from(opinion, questions) -> dict:
    if opinion is None:
        return {}
    values = {name: getattr(opinion, name) or "" for name in TEXT_FIELDS}
    answers = opinion.answers or {}
    values.update({answer_name(q): answers.get(str(q.pk), "") for q in questions})
    return values


def content_from(data, questions, *, base_answers=None) -> dict:
    """The opinion fields present in posted `data`, in the services' shape (answers keyed by question id).

    Answers not posted keep their value from `base_answers` so that a partial autosave loses nothing.
    """
    content = {name: data[name] for name in TEXT_FIELDS if name in data}
    posted = {str(q.pk): data[answer_name(q)] for q in questions if answer_name(q) in data}
    if posted:
        content["answers"] = {**(base_answers or {}), **posted}
    return content


class ReplyForm(MessageForm):
    """A message in the case's thread, written from the review screen."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, prefix="reply", **kwargs)
        self.fields["body"].label = _("Your reply")
        self.fields["body"].help_text = _("A reply does not pause the review. To wait for records or answers, "
                                          "request information below.")
