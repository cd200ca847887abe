"""Self-pay: the price shown before submission and the payment recorded through a payment provider.

A provider is a class with a `name` and `record(*, enrollment, amount_cents, reference) -> dict` returning the
provider's state and reference; `KONSIL_PAYMENT_PROVIDER` names the one in use. The embedded default is
"manual": a coordinator records a payment received outside Konsil (card terminal, cheque, transfer)."""

from __future__ import annotations

from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext as _

from konsil.audit.services import emit
from konsil.cases import relations as rel
from konsil.core.errors import Conflict, PermissionDenied, ValidationFailed

from . import inputs
from .models import Enrollment, Payment


class ManualProvider:
    """A payment received outside Konsil and recorded by a coordinator, with its receipt reference."""

    name = "manual"

    def record(self, *, enrollment: Enrollment, amount_cents: int, reference: str) -> dict:
        if not reference:
            raise ValidationFailed(_("Give the receipt or transfer reference."), field="reference")
        return {"state": "recorded", "reference": reference}


PROVIDERS = {ManualProvider.name: ManualProvider}


def provider():
    name = getattr(settings, "KONSIL_PAYMENT_PROVIDER", "manual")
    return PROVIDERS[name]()


def record_payment(*, actor, enrollment: Enrollment, data) -> Payment:
    """Record a self-pay payment for the case (a coordinator of its network)."""
    if rel.COORDINATOR not in rel.relations(actor, enrollment.case):
        raise PermissionDenied(_("Only a coordinator of the case's network records payments."))
    if not enrollment.self_pay:
        raise Conflict(_("This case is paid by its program."), code="not_self_pay")
    data = data if isinstance(data, dict) else {}
    clean = inputs.collect({"amount": lambda: inputs.cents(data, "amount"),
                            "reference": lambda: inputs.text(data, "reference", required=False, limit=80)})
    if clean["amount"] <= 0:
        raise ValidationFailed(_("Enter an amount above zero."), field="amount")
    chosen = provider()
    result = chosen.record(enrollment=enrollment, amount_cents=clean["amount"], reference=clean["reference"])
    with transaction.atomic():
        payment = Payment.objects.create(enrollment=enrollment, provider=chosen.name, amount_cents=clean["amount"],
                                         currency=enrollment.program.currency, reference=result["reference"],
                                         state=result["state"], recorded_by=actor)
        emit(actor=actor, action="program.payment_record", obj=payment, patient_id=enrollment.case.patient_id,
             purpose="payment", detail={"provider": chosen.name, "amount_cents": clean["amount"]})
    return payment


def balance_cents(enrollment: Enrollment) -> int:
    paid = sum(p.amount_cents for p in enrollment.payments.all())
    return max(0, enrollment.price_cents - paid)
