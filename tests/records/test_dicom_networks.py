"""Each network's DICOM nodes: a calling AE title names its network; what it pushes reaches only that network's
cases and inbox, a coordinator sees only their networks' unmatched studies, unknown callers are refused once
nodes are configured, and a node that may not push is answered 'not authorized' (real storescu)."""

from __future__ import annotations

import shutil

import pytest

from konsil.accounts.models import Role
from konsil.audit.models import AuditEvent
from konsil.cases.models import Attachment
from konsil.core.errors import NotFound, PermissionDenied
from konsil.records import dimse, inbox
from konsil.records.models import DicomNode, InboundStudy, Study
from tests.factories import make_draft, make_user

from .records_support import ct
from .test_dimse import listen, push  # noqa: F401 -- the listener fixture

pytestmark = [pytest.mark.django_db(transaction=True, serialized_rollback=True),
              pytest.mark.skipif(not shutil.which("storescu"), reason="dcmtk (storescu) not installed")]


@pytest.fixture
def two_networks(network, other_network):
    DicomNode.objects.create(network=network, name="Our PACS", ae_title="OURPACS")
    DicomNode.objects.create(network=other_network, name="Their PACS", ae_title="THEIRPACS")
    DicomNode.objects.create(network=network, name="Viewer", ae_title="VIEWER", may_store=False, may_query=True)
    return network, other_network


def test_a_node_pushes_only_into_its_own_networks_cases_and_inbox(listen, tmp_path, draft_case,  # noqa: F811
                                                                  two_networks, coordinator):
    network, other_network = two_networks
    config = listen()
    theirs = push(config, tmp_path, ct(2, seed=81), calling="THEIRPACS", AccessionNumber=draft_case.reference)
    assert theirs.returncode == 0, theirs.stderr
    assert not Study.objects.filter(case=draft_case).exists()  # our case's reference does not pull their study in
    (held,) = InboundStudy.objects.all()
    assert held.network == other_network
    their_coordinator = make_user(Role.COORDINATOR, other_network)
    assert inbox.inbox_for(their_coordinator) == [held]
    assert inbox.inbox_for(coordinator) == []  # our coordinator does not see their network's unmatched study
    with pytest.raises(NotFound):
        inbox.get_item(coordinator, held.pk)
    with pytest.raises(NotFound):
        inbox.reject(actor=coordinator, item=held)
    their_case = make_draft(other_network, make_user(Role.PATIENT, other_network))
    with pytest.raises(PermissionDenied):  # their coordinator cannot put it into a case of ours either
        inbox.attach(actor=their_coordinator, item=held, case=draft_case)
    assert inbox.suggestions(their_coordinator, held) == [] or all(
        case.network == other_network for case, _reasons in inbox.suggestions(their_coordinator, held))
    ours = push(config, tmp_path, ct(2, seed=82), calling="OURPACS", AccessionNumber=draft_case.reference)
    assert ours.returncode == 0, ours.stderr
    assert Study.objects.get(case=draft_case).series.get().instance_count == 2
    assert their_case.network == other_network


def test_unknown_callers_and_nodes_that_may_not_push_are_refused(listen, tmp_path, draft_case,  # noqa: F811
                                                                 two_networks):
    config = listen()
    unknown = push(config, tmp_path, ct(1, seed=83), calling="STRANGER", AccessionNumber=draft_case.reference)
    assert unknown.returncode != 0  # association rejected: calling AE title not recognised
    viewer = push(config, tmp_path, ct(1, seed=84), calling="VIEWER", AccessionNumber=draft_case.reference)
    assert "0x0124" in viewer.stderr + viewer.stdout or viewer.returncode != 0
    assert not Attachment.objects.exists() and not InboundStudy.objects.exists()
    assert AuditEvent.objects.filter(action="dicom.receive", outcome="denied", actor_label="dicom:VIEWER").exists()


def test_unconfigured_callers_go_to_the_default_network(settings, draft_case, network, other_network):
    """No nodes: any caller the address rules allow; an unmatched study needs a network to wait in."""
    content = ct(1, seed=85)[0]
    assert dimse.store_instance(content, calling_ae="ANY") == dimse.NOT_AUTHORIZED  # two networks, none chosen
    assert not InboundStudy.objects.exists()
    settings.KONSIL_DICOM_NETWORK = other_network.slug
    assert dimse.store_instance(content, calling_ae="ANY") == dimse.SUCCESS
    assert InboundStudy.objects.get().network == other_network


def test_nodes_cli_add_list_remove(capsys, network):
    from konsil import cli

    assert cli.main(["dicom", "nodes", "add", network.slug, "CTSCANNER", "--host", "10.0.0.5", "--port", "104",
                     "--query", "--source", "--retrieve", "move"]) == 0
    node = DicomNode.objects.get(ae_title="CTSCANNER")
    assert (node.network, node.port, node.may_query, node.is_source, node.retrieve) == (network, 104, True, True,
                                                                                          "move")
    assert cli.main(["dicom", "nodes", "add", network.slug, "CTSCANNER"]) == 2  # already configured
    assert cli.main(["dicom", "nodes", "add", "no-such-network", "X"]) == 2
    assert cli.main(["dicom", "nodes", "add", network.slug, "A" * 17]) == 2
    assert cli.main(["dicom", "nodes", "add", network.slug, "WEB", "--retrieve", "dicomweb"]) == 2
    capsys.readouterr()
    assert cli.main(["dicom", "nodes", "list"]) == 0
    assert "CTSCANNER\t10.0.0.5:104\tstore,query,source\tmove\tactive" in capsys.readouterr().out
    assert cli.main(["dicom", "nodes", "remove", "CTSCANNER"]) == 0
    assert not DicomNode.objects.get(ae_title="CTSCANNER").active
    assert AuditEvent.objects.filter(action="dicom.node.add").exists()


def test_a_stale_pull_does_not_block_a_new_one_and_an_unreachable_pacs_fails_with_a_reason(draft_case, coordinator,
                                                                                            network):
    from datetime import timedelta

    from django.utils import timezone

    from konsil.core.errors import Conflict
    from konsil.records import retrieve
    from konsil.records.models import RetrieveJob

    from .test_dimse import free_port

    node = DicomNode.objects.create(network=network, name="Old PACS", ae_title="OLDPACS", host="127.0.0.1",
                                    port=free_port(), is_source=True)
    stuck = RetrieveJob.objects.create(case=draft_case, node=node, study_uid="1.2.3", method="get",
                                       state="running", requested_by=coordinator)
    with pytest.raises(Conflict):
        retrieve.start(actor=coordinator, case=draft_case, node_id=node.pk, study_uid="1.2.3")
    RetrieveJob.objects.filter(pk=stuck.pk).update(updated_at=timezone.now() - timedelta(hours=2))
    job = retrieve.start(actor=coordinator, case=draft_case, node_id=node.pk, study_uid="1.2.3")
    job.refresh_from_db()  # nobody listens on that port
    assert job.state == "failed" and job.error == "pacs_unavailable" and job.finished_at is not None
    assert AuditEvent.objects.filter(action="dicom.pacs.retrieved", outcome="error").exists()
