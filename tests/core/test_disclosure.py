"""The one complementary-suppression rule of sponsor views (core.disclosure), used by analytics and the program
dashboard alike."""

import pytest

from konsil.core.disclosure import complement


@pytest.mark.parametrize(("counts", "suppressed", "expected"), [
    ([1, 100, 40], [True, False, False], 2),  # the smallest shown count goes with the single small one
    ([1, 100, 0], [True, False, False], 1),  # a zero gives nothing away and is never the one hidden
    ([1, 3, 100], [True, True, False], None),  # two small counts already hide each other
    ([50, 100], [False, False], None),  # nothing suppressed
    ([4], [True], None),  # nothing else shown
    ([], [], None),
])
def test_complement(counts, suppressed, expected):
    assert complement(counts, suppressed) == expected


def test_counts_and_flags_must_pair():
    with pytest.raises(ValueError):
        complement([1, 2], [True])
