"""core.pages.toggle_active, the on/off switch the records and fhir pages share: flips, audits, scopes, rolls back."""

from __future__ import annotations

from unittest import mock

import pytest
from django.http import Http404

from konsil.audit.models import AuditEvent
from konsil.core.pages import toggle_active
from konsil.records.models import DicomNode

pytestmark = pytest.mark.django_db


@pytest.fixture
def node(network):
    return DicomNode.objects.create(network=network, name="Main", ae_title="MAIN", host="10.0.0.1", port=104)


def test_it_switches_off_then_on_and_audits_each(coordinator, network, node):
    rows = DicomNode.objects.filter(network=network)
    assert toggle_active(coordinator, rows, node.pk, on="x.on", off="x.off").active is False
    node.refresh_from_db()
    assert not node.active
    assert toggle_active(coordinator, rows, node.pk, on="x.on", off="x.off").active is True
    actions = list(AuditEvent.objects.filter(object_id=str(node.pk)).order_by("seq").values_list("action", flat=True))
    assert actions[-2:] == ["x.off", "x.on"]


def test_a_row_outside_the_queryset_is_a_404_and_unchanged(coordinator, other_network, node):
    with pytest.raises(Http404):
        toggle_active(coordinator, DicomNode.objects.filter(network=other_network), node.pk, on="x.on", off="x.off")
    node.refresh_from_db()
    assert node.active and not AuditEvent.objects.filter(action__startswith="x.").exists()


def test_a_failed_audit_leaves_the_row_as_it_was(coordinator, network, node):
    with mock.patch("konsil.core.pages.emit", side_effect=RuntimeError("audit down")), pytest.raises(RuntimeError):
        toggle_active(coordinator, DicomNode.objects.filter(network=network), node.pk, on="x.on", off="x.off")
    node.refresh_from_db()
    assert node.active
