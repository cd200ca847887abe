"""The interpreter flag: asked in the intake, accepted by the API, and it opens matching to other languages."""

import pytest
from django.urls import reverse

from konsil.cases import services
from konsil.core.errors import ValidationFailed

pytestmark = pytest.mark.django_db


def test_the_wizard_records_the_interpreter_flag(client, patient_user, draft_case):
    client.force_login(patient_user)
    url = reverse("cases:intake", kwargs={"pk": draft_case.pk, "step": 4})
    response = client.post(url, {"urgency": "routine", "preferred_delivery": "written", "interpreter_needed": "on"})
    assert response.status_code == 302
    draft_case.refresh_from_db()
    assert draft_case.interpreter_needed is True
    client.post(url, {"urgency": "routine", "preferred_delivery": "written"})
    draft_case.refresh_from_db()
    assert draft_case.interpreter_needed is False


def test_the_service_refuses_a_non_boolean(patient_user, draft_case):
    with pytest.raises(ValidationFailed) as err:
        services._case_fields({"interpreter_needed": "perhaps"})
    assert "interpreter_needed" in err.value.errors
    assert services._case_fields({"interpreter_needed": True}) == {"interpreter_needed": True}
