"""NPI (Luhn), the profile's structured fields and their validation."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from konsil.matching import npi, profile
from konsil.matching.models import Specialist

from ..factories import make_specialist


@pytest.mark.parametrize(("value", "valid"), [("1234567893", True), ("1234567890", False), ("123456789", False),
                                              ("12345678a3", False), (1234567893, False), (None, False)])
def test_npi_luhn(value, valid):
    assert npi.is_valid_npi(value) is valid


def test_check_digit_builds_valid_npis():
    assert npi.is_valid_npi("190000001" + npi.npi_check_digit("190000001"))
    with pytest.raises(ValidationError):
        npi.validate_npi("1234567890")


@pytest.mark.parametrize(("validator", "value"), [
    (profile.validate_availability, [{"day": 7, "start": "09:00", "end": "10:00"}]),
    (profile.validate_availability, [{"day": 1, "start": "10:00", "end": "09:00"}]),
    (profile.validate_availability, [{"day": 1, "start": "9am", "end": "10:00"}]),
    (profile.validate_availability, [{"day": True, "start": "09:00", "end": "10:00"}]),
    (profile.validate_availability, {"day": 1}),
    (profile.validate_board_certifications, [{"board": "ABIM", "specialty": "cardiology", "expires_on": "soon"}]),
    (profile.validate_board_certifications, [{"board": "", "specialty": "cardiology"}]),
    (profile.validate_board_certifications, [{"board": "ABIM", "specialty": "x", "extra": 1}]),
    (profile.validate_delivery_modes, []),
    (profile.validate_delivery_modes, ["fax"]),
    (profile.validate_languages, ["EN"]),
    (profile.validate_names, [""]),
    (profile.validate_fraction, 1.5),
])
def test_profile_validators_refuse_bad_values(validator, value):
    with pytest.raises(ValidationError):
        validator(value)


def test_profile_validators_accept_good_values():
    profile.validate_availability([{"day": 0, "start": "09:00", "end": "17:30"}])
    profile.validate_board_certifications([{"board": "ABIM", "specialty": "cardiology", "expires_on": "2030-01-31"}])
    profile.validate_delivery_modes(["written", "in_person"])
    profile.validate_fraction(None)


def test_model_validation_names_each_bad_field(network):
    s = make_specialist(network)
    s.npi, s.availability, s.delivery_modes, s.on_time_rate = "1234567890", [{"day": 9}], ["fax"], 2.0
    with pytest.raises(ValidationError) as exc:
        s.full_clean()
    assert {"npi", "availability", "delivery_modes", "on_time_rate"} <= set(exc.value.message_dict)


def test_new_fields_have_safe_defaults(network):
    s = Specialist.objects.get(pk=make_specialist(network).pk)
    assert s.delivery_modes == ["written"] and s.turnaround_hours == 72 and s.quality is None
    s.on_time_rate, s.peer_review_score = 0.9, 0.7
    assert s.quality == pytest.approx(0.8)
