"""National Provider Identifier: the Luhn check digit over the prefix 80840 and the first nine digits."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _


def npi_check_digit(base9: str) -> str:
    """The Luhn check digit of an NPI whose first nine digits are `base9`."""
    total = 0
    for i, ch in enumerate(reversed("80840" + base9)):
        d = int(ch)
        if i % 2 == 0:
            d = d * 2 - 9 if d * 2 > 9 else d * 2
        total += d
    return str((10 - total % 10) % 10)


def is_valid_npi(npi) -> bool:
    return isinstance(npi, str) and len(npi) == 10 and npi.isdigit() and npi_check_digit(npi[:9]) == npi[9]


def validate_npi(value) -> None:
    """Django validator: ten digits passing the Luhn check."""
    if not is_valid_npi(value):
        raise ValidationError(_("Enter a valid 10-digit NPI (the check digit does not match)."), code="npi")
