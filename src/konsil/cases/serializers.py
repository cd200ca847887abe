"""API shapes of cases. Input serializers check types and shapes; the services hold the rules."""

from __future__ import annotations

from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from konsil.core.api import StrictSerializer

from . import lifecycle
from . import relations as rel
from .choices import Channel, Delivery, Sex, Status, Urgency
from .notify import path_for, text_for

# --- input --------------------------------------------------------------------------------------------------


def _text(**kwargs):
    return serializers.CharField(required=False, allow_blank=True, **kwargs)


class PatientInputSerializer(StrictSerializer):
    given_name = serializers.CharField()
    family_name = serializers.CharField()
    birth_date = serializers.DateField(help_text=_("YYYY-MM-DD"))
    sex = serializers.ChoiceField(choices=Sex.choices)
    state = _text(help_text=_("US state (two letters); required when the country is US."))
    county = _text(help_text=_("County FIPS code (five digits) in that state; optional."))
    country = _text(help_text=_("ISO 3166 two-letter country code (default US)."))
    language = _text(help_text=_("Preferred language (ISO 639-1)."))
    email = _text()
    phone = _text()


class CaseWriteSerializer(StrictSerializer):
    """Fields of a draft case (all optional on update; a save-and-resume intake)."""

    patient = PatientInputSerializer(required=False)
    questions = serializers.ListField(child=serializers.CharField(allow_blank=True), required=False)
    diagnosis_text = _text(help_text=_("The diagnosis in the patient's own words, e.g. breast cancer"))
    diagnoses = serializers.ListField(child=serializers.CharField(allow_blank=True), required=False,
                                      help_text=_("Optional ICD-10-CM codes, e.g. C50.911"))
    proposed_treatment = _text(help_text=_("In plain words; the CPT code is optional"))
    proposed_cpt = _text(help_text=_("CPT code of the proposed treatment, e.g. 27447"))
    treating_physician = _text()
    treating_physician_email = _text()
    treating_facility = _text()
    urgency = serializers.ChoiceField(choices=Urgency.choices, required=False)
    preferred_delivery = serializers.ChoiceField(choices=Delivery.choices, required=False)
    interpreter_needed = serializers.BooleanField(required=False)
    clinical_summary = _text()
    wizard_step = serializers.IntegerField(required=False, min_value=1, max_value=6)


class CaseCreateSerializer(CaseWriteSerializer):
    channel = serializers.ChoiceField(choices=Channel.choices, required=False)
    patient = PatientInputSerializer()
    network = serializers.UUIDField(
        required=False, help_text=_("The provider network, when the user belongs to several."))


class ConsentInputSerializer(StrictSerializer):
    scope = serializers.ListField(child=serializers.CharField(), allow_empty=True,
                                  help_text=_("obtain_records, share_with_reviewers, share_report"))
    signer_name = serializers.CharField(allow_blank=True)
    signer_relationship = serializers.CharField(
        required=False, allow_blank=True,
        help_text=_("self (the patient); parent, guardian, representative or other (someone else on the patient's "
                    "side); treating_clinician (the referring clinician). Blank: the signer's own default."))


class TransitionInputSerializer(StrictSerializer):
    """An action of the lifecycle and its parameters (see `allowed_actions` of the case for which apply)."""

    action = serializers.CharField(max_length=64)
    specialty = serializers.CharField(required=False, allow_blank=True, help_text=_("triage: specialty code"))
    urgency = serializers.CharField(required=False, allow_blank=True, help_text=_("triage: urgency"))
    specialist = serializers.CharField(required=False, allow_blank=True, help_text=_("offer: specialist id"))
    reason = serializers.CharField(required=False, allow_blank=True)
    message = serializers.CharField(required=False, allow_blank=True,
                                    help_text=_("request_info, provide_info: the message"))
    opinion = serializers.DictField(required=False, help_text=_("amend: the changed opinion fields"))

    def validate(self, attrs):
        t = lifecycle.table().get(attrs["action"])
        extra = sorted(set(attrs) - {"action"} - set(t.params)) if t else []
        if extra:
            raise serializers.ValidationError({k: [_("This action takes no such parameter.")] for k in extra})
        return attrs


class CodeDecisionInputSerializer(StrictSerializer):
    code = serializers.CharField(max_length=16, help_text=_("A suggested ICD-10-CM code, e.g. C50.911"))
    decision = serializers.ChoiceField(choices=["confirm", "reject"])


class IcdQuerySerializer(serializers.Serializer):
    q = serializers.CharField(max_length=100, allow_blank=True, required=False,
                              help_text=_("Words of a title or inclusion term, or the start of a code"))
    limit = serializers.IntegerField(min_value=1, max_value=50, required=False)


class AttachmentInputSerializer(StrictSerializer):
    file = serializers.FileField()
    description = serializers.CharField(required=False, allow_blank=True, max_length=255)


class MessageInputSerializer(StrictSerializer):
    body = serializers.CharField(allow_blank=True)


class NotificationsReadSerializer(StrictSerializer):
    # bounded: a list becomes one bind parameter per id on PostgreSQL (at most 65,535 per statement)
    ids = serializers.ListField(child=serializers.UUIDField(), required=False, max_length=1000)
    all = serializers.BooleanField(required=False)

    def validate(self, attrs):
        if "ids" not in attrs and not attrs.get("all"):
            raise serializers.ValidationError({"ids": [_("Give the ids to mark as read, or all: true.")]})
        return attrs


class CaseFilterSerializer(serializers.Serializer):
    """Query filters of the case list (other query parameters, such as paging, pass through)."""

    status = serializers.ChoiceField(choices=Status.choices, required=False)
    urgency = serializers.ChoiceField(choices=Urgency.choices, required=False)


# --- output -------------------------------------------------------------------------------------------------


class PatientSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    given_name = serializers.CharField()
    family_name = serializers.CharField()
    birth_date = serializers.DateField()
    sex = serializers.CharField()
    state = serializers.CharField()
    county = serializers.CharField(help_text=_("County FIPS code, or empty"))
    country = serializers.CharField()
    language = serializers.CharField()
    email = serializers.CharField()
    phone = serializers.CharField()


class IdentitySerializer(serializers.Serializer):
    """The version of the patient's identity the case points at (submitted with; the report is signed for it)."""

    id = serializers.UUIDField()
    version = serializers.IntegerField()
    changed_fields = serializers.ListField(child=serializers.CharField())
    created_at = serializers.DateTimeField()


class CodeSuggestionSerializer(serializers.Serializer):
    code = serializers.CharField()
    description = serializers.CharField()
    source = serializers.ChoiceField(choices=["text", "records"])
    matched = serializers.CharField()
    status = serializers.ChoiceField(choices=["suggested", "confirmed", "rejected"])
    decided_at = serializers.DateTimeField(allow_null=True)


class IcdResultSerializer(serializers.Serializer):
    code = serializers.CharField()
    title = serializers.CharField()


class QuestionSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    position = serializers.IntegerField()
    text = serializers.CharField()


class DiagnosisSerializer(serializers.Serializer):
    code = serializers.CharField()
    description = serializers.CharField()


class ConsentSerializer(serializers.Serializer):
    scope = serializers.ListField(child=serializers.CharField())
    signer_name = serializers.CharField()
    signer_relationship = serializers.CharField()
    signed_at = serializers.DateTimeField()


class TimelineEntrySerializer(serializers.Serializer):
    action = serializers.CharField()
    from_status = serializers.CharField()
    to_status = serializers.CharField()
    role = serializers.CharField()
    actor_name = serializers.CharField(source="actor.display_name", default="")
    note = serializers.CharField()
    at = serializers.DateTimeField(source="created_at")


class AllowedActionSerializer(serializers.Serializer):
    action = serializers.CharField()
    label = serializers.CharField()
    params = serializers.ListField(child=serializers.CharField())


class NamedRefSerializer(serializers.Serializer):
    id = serializers.CharField(source="pk")
    name = serializers.CharField(source="__str__")


class CaseSummarySerializer(serializers.Serializer):
    """A case in a list: enough to pick it, no clinical detail."""

    id = serializers.UUIDField()
    reference = serializers.CharField()
    status = serializers.CharField()
    status_display = serializers.CharField(source="get_status_display")
    urgency = serializers.CharField()
    channel = serializers.CharField()
    patient_name = serializers.SerializerMethodField()
    specialty = serializers.CharField(source="specialty_id", allow_null=True)
    created_at = serializers.DateTimeField()
    submitted_at = serializers.DateTimeField(allow_null=True)
    updated_at = serializers.DateTimeField()

    def get_patient_name(self, case) -> str:
        return (case.identity or case.patient).full_name


class CaseDetailSerializer(CaseSummarySerializer):
    """A case as its care team and its patient see it; `allowed_actions` are those of the caller."""

    network = serializers.UUIDField(source="network_id")
    preferred_delivery = serializers.CharField()
    interpreter_needed = serializers.BooleanField()
    diagnosis_text = serializers.CharField()
    proposed_treatment = serializers.CharField()
    proposed_cpt = serializers.CharField()
    treating_physician = serializers.CharField()
    treating_physician_email = serializers.CharField()
    treating_facility = serializers.CharField()
    clinical_summary = serializers.CharField()
    wizard_step = serializers.IntegerField()
    delivered_at = serializers.DateTimeField(allow_null=True)
    closed_at = serializers.DateTimeField(allow_null=True)
    patient = serializers.SerializerMethodField()
    identity = IdentitySerializer(allow_null=True)
    assigned_specialist = NamedRefSerializer(allow_null=True)
    questions = QuestionSerializer(many=True, source="questions.all")
    diagnoses = DiagnosisSerializer(many=True, source="diagnoses.all")
    code_suggestions = CodeSuggestionSerializer(many=True, source="code_suggestions.all")
    consent = serializers.SerializerMethodField()
    timeline = TimelineEntrySerializer(many=True, source="timeline.all")
    allowed_actions = serializers.SerializerMethodField()
    contact_shown = serializers.SerializerMethodField(
        help_text=_("False for a specialist only offered the case: contact details are left blank."))

    CONTACT_FIELDS = ("treating_physician", "treating_physician_email", "treating_facility")
    PATIENT_CONTACT_FIELDS = ("email", "phone")

    def _contact_shown(self, case) -> bool:
        from konsil.core import authz

        return authz.can("case.view_contact", self.context["request"].user, case)

    def get_contact_shown(self, case) -> bool:
        return self._contact_shown(case)

    def to_representation(self, case):
        """Least access: what an offered specialist needs to decide, without the contact details."""
        data = super().to_representation(case)
        if not data.get("contact_shown"):
            data.update({name: "" for name in self.CONTACT_FIELDS})
            data["patient"].update({name: "" for name in self.PATIENT_CONTACT_FIELDS})
        return data

    @extend_schema_field(PatientSerializer)
    def get_patient(self, case):
        """The patient's details as this case has them (its identity version), under the patient's id."""
        identity = case.identity or case.patient
        return PatientSerializer({"id": case.patient_id, **{name: getattr(identity, name) for name in (
            "given_name", "family_name", "birth_date", "sex", "state", "county", "country", "language", "email",
            "phone")}}).data

    @extend_schema_field(ConsentSerializer(allow_null=True))
    def get_consent(self, case):
        consent = getattr(case, "consent", None)
        return ConsentSerializer(consent).data if consent is not None else None

    @extend_schema_field(AllowedActionSerializer(many=True))
    def get_allowed_actions(self, case):
        relations = rel.relations(self.context["request"].user, case)
        return [{"action": t.action, "label": str(t.label), "params": list(t.params)}
                for t in lifecycle.allowed_actions(case.status, relations)]


class CaseStatusSerializer(serializers.Serializer):
    """What a caller who no longer sees the case (a specialist who declined) learns about it."""

    id = serializers.UUIDField()
    reference = serializers.CharField()
    status = serializers.CharField()


class AttachmentSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    filename = serializers.CharField()
    content_type = serializers.CharField()
    description = serializers.CharField()
    size = serializers.IntegerField()
    sha256 = serializers.CharField()
    uploaded_by = serializers.CharField(source="uploaded_by.display_name")
    created_at = serializers.DateTimeField()
    kind = serializers.CharField(help_text="Decided by content: pdf, jpeg, png, dicom, zip, fhir, text")
    status = serializers.ChoiceField(choices=["queued", "processing", "ready", "failed"])
    error_code = serializers.CharField(help_text="Why a failed record was not accepted (stable code)")
    error = serializers.CharField(source="error_message", help_text="The reason, in the reader's language")
    detail = serializers.JSONField(help_text="Counts read out of the record: pages, images, series, ...")
    download_url = serializers.SerializerMethodField()

    def get_download_url(self, attachment) -> str:
        return reverse("api:case-download", kwargs={"pk": attachment.case_id, "attachment_id": attachment.pk})


class MessageSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    author = serializers.CharField(source="author.display_name")
    author_role = serializers.CharField()
    kind = serializers.CharField()
    body = serializers.CharField()
    created_at = serializers.DateTimeField()


class TriageProposalSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    engine = serializers.CharField()
    model_version = serializers.CharField()
    specialty = serializers.CharField(source="specialty_id", allow_null=True)
    specialty_name = serializers.CharField(source="specialty.name", default=None, allow_null=True)
    ranked = serializers.JSONField()
    urgency = serializers.CharField()
    red_flags = serializers.ListField(child=serializers.CharField())
    reasons = serializers.SerializerMethodField(help_text="The reasons in words, in the reader's language.")
    reasons_data = serializers.SerializerMethodField(
        help_text='The same reasons as [{"key", "params"}] (or {"text"} for an older row), for a client to word.')
    abstain = serializers.BooleanField()
    created_at = serializers.DateTimeField()

    def get_reasons(self, proposal) -> list[str]:
        from konsil.triage.reasons import render

        return render(proposal)

    def get_reasons_data(self, proposal) -> list[dict]:
        from konsil.triage.reasons import stored, to_data

        return [item if isinstance(item, dict) else to_data(item) for item in stored(proposal)]


class NotificationSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    kind = serializers.CharField()
    text = serializers.SerializerMethodField()
    case = serializers.UUIDField(source="case_id", allow_null=True)
    case_reference = serializers.CharField(source="case.reference", default=None, allow_null=True)
    read_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()
    page = serializers.SerializerMethodField(help_text="The web page where the reader acts on it (a path).")

    def get_text(self, notification) -> str:
        return text_for(notification.kind, notification.case.reference if notification.case_id else "")

    def get_page(self, notification) -> str | None:
        return path_for(notification.kind, notification.case_id)


class MarkedSerializer(serializers.Serializer):
    marked = serializers.IntegerField()
