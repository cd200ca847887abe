"""The telephony provider interface: how a phone consult's call is placed. The default has the specialist dial
the patient's number in the call window; a provider (a SIP trunk, a cloud voice API) implements `place_call`."""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.module_loading import import_string

from . import conf


@dataclass(frozen=True)
class CallPlan:
    who_dials: str  # "specialist" | "provider"
    provider: str
    reference: str = ""  # the provider's call id, when it placed one


class Provider:
    """Place (or plan) the call of a phone consult. Never log the numbers."""

    name = "base"

    def place_call(self, *, consult) -> CallPlan:  # pragma: no cover - interface
        raise NotImplementedError


class ManualDialling(Provider):
    """No telephony service: the specialist calls the patient's number within the call window."""

    name = "manual"

    def place_call(self, *, consult) -> CallPlan:
        return CallPlan(who_dials="specialist", provider=self.name)


def provider() -> Provider:
    return import_string(conf.telephony_provider())()
