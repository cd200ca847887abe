"""Snippets the fault tests run inside a stack (a separate process with its own settings)."""

SUBMIT = """
from konsil.accounts.roles import OrganizationKind, Role
from konsil.cases.services import transition
from tests.factories import OrganizationFactory, make_draft, make_user
import uuid
tag = uuid.uuid4().hex[:8]
net = OrganizationFactory(name=f"Net {tag}", slug=f"net-{tag}", kind=OrganizationKind.PROVIDER_NETWORK)
patient = make_user(Role.PATIENT, net, email=f"patient-{tag}@example.test")
case = make_draft(net, patient)
transition(actor=patient, case=case, action="submit")
print(json.dumps(str(case.pk)))
"""

UPLOAD_STUDY = """
from konsil.accounts.roles import OrganizationKind, Role
from konsil.records.intake import store_record
from tests.factories import OrganizationFactory, make_draft, make_user
from tests.records.records_support import ct, zip_bytes
import uuid
tag = uuid.uuid4().hex[:8]
net = OrganizationFactory(name=f"Net {tag}", slug=f"net-{tag}", kind=OrganizationKind.PROVIDER_NETWORK)
patient = make_user(Role.PATIENT, net, email=f"patient-{tag}@example.test")
case = make_draft(net, patient)
study = zip_bytes({f"CT/{i:03d}.dcm": data for i, data in enumerate(ct(N))})
from django.db import transaction
with transaction.atomic():
    record = store_record(actor=patient, case=case, content=study, filename="study.zip")
print(json.dumps(str(record.pk)))
"""

CASE_STATE = """
from konsil.audit import services as audit_services
getattr(audit_services, "seal", lambda: None)()
from konsil.audit.models import AuditEvent
from konsil.cases.models import Case
from konsil.ops.models import TaskRun
from konsil.triage.models import TriageProposal
case = Case.objects.get(pk=CASE)
actions = sorted(AuditEvent.objects.filter(patient_id=case.patient_id).values_list("action", flat=True))
runs = list(TaskRun.objects.filter(args=[CASE]).values_list("task_path", "state", "attempts"))
print(json.dumps({"proposals": TriageProposal.objects.filter(case=case).count(), "actions": actions,
                  "runs": runs}))
"""

RECORD_STATE = """
from konsil.audit import services as audit_services
getattr(audit_services, "seal", lambda: None)()
from konsil.audit.models import AuditEvent
from konsil.cases.models import Attachment
from konsil.ops.models import TaskRun
from konsil.records.models import Derivative, Instance
record = Attachment.objects.get(pk=RECORD)
owned = [record, *record.entries.all()]
print(json.dumps({"status": record.status, "instances": Instance.objects.filter(attachment__in=owned).count(),
                  "entries": record.entries.count(),
                  "derivatives": Derivative.objects.filter(attachment__in=owned).count(),
                  "processed": AuditEvent.objects.filter(action="record.process", object_id=RECORD).count(),
                  "runs": list(TaskRun.objects.filter(args=[RECORD]).values_list("state", "attempts"))}))
"""

VERIFY = """
from konsil.audit import services as audit_services
getattr(audit_services, "seal", lambda: None)()
from konsil.audit.services import verify
result = verify()
print(json.dumps({"ok": result.ok, "verified": result.verified, "reason": result.reason}))
"""


def with_values(snippet: str, **values) -> str:
    return "".join(f"{name} = {value!r}\n" for name, value in values.items()) + snippet
