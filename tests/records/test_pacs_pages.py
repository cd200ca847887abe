"""The DICOM node pages (a network's coordinators and org admins) and a case's PACS page (search a source PACS, pull
a study, follow the pull): field-level errors, nothing half-saved, audited, scoped to the user's network, a clear
message when the PACS cannot be reached (a closed port on this machine: a real refused connection, no mock)."""

from __future__ import annotations

import socket

import pytest

from konsil.accounts.models import Role
from konsil.audit.models import AuditEvent
from konsil.records.models import DicomNode, RetrieveJob
from tests.factories import make_user

pytestmark = pytest.mark.django_db


def closed_port() -> int:
    """A port nobody listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


VALID = {"name": "General PACS", "ae_title": "GENPACS", "host": "127.0.0.1", "port": "104", "dicomweb_url": "",
         "may_store": "on", "is_source": "on", "retrieve": "get"}


def _post_node(client, network, **changes):
    return client.post("/records/dicom-nodes/new/", {**VALID, "network": str(network.pk), **changes})


# --- node setup --------------------------------------------------------------------------------------------------


def test_a_coordinator_adds_edits_and_switches_off_a_node(client, login, coordinator, network):
    login(client, coordinator)
    assert client.get("/records/dicom-nodes/").status_code == 200
    answer = _post_node(client, network)
    assert answer.status_code == 302
    node = DicomNode.objects.get()
    assert (node.network, node.ae_title, node.port, node.is_source, node.active) == (network, "GENPACS", 104, True,
                                                                                     True)
    assert AuditEvent.objects.filter(action="dicom.node.add", object_id=str(node.pk), actor=coordinator).exists()
    page = client.get("/records/dicom-nodes/").content.decode()
    assert "GENPACS" in page and "127.0.0.1:104" in page
    edit = client.post(f"/records/dicom-nodes/{node.pk}/", {**VALID, "network": str(network.pk), "port": "11112",
                                                            "retrieve": "move"})
    assert edit.status_code == 302
    node.refresh_from_db()
    assert (node.port, node.retrieve) == (11112, "move")
    event = AuditEvent.objects.get(action="dicom.node.change", object_id=str(node.pk))
    assert set(event.detail["fields"]) == {"port", "retrieve"}
    assert client.post(f"/records/dicom-nodes/{node.pk}/toggle/").status_code == 302
    node.refresh_from_db()
    assert not node.active
    assert AuditEvent.objects.filter(action="dicom.node.deactivate", object_id=str(node.pk)).exists()
    client.post(f"/records/dicom-nodes/{node.pk}/toggle/")
    node.refresh_from_db()
    assert node.active


def test_an_org_admin_of_the_network_configures_nodes(client, login, network):
    admin = make_user(Role.ORG_ADMIN, network)
    login(client, admin)
    assert _post_node(client, network).status_code == 302
    assert DicomNode.objects.filter(network=network).count() == 1


@pytest.mark.parametrize(("changes", "field", "message"), [
    ({"ae_title": ""}, "ae_title", "required"),
    ({"ae_title": "A" * 17}, "ae_title", "at most 16"),
    ({"ae_title": "BAD\\AE"}, "ae_title", "backslash"),
    ({"name": ""}, "name", "required"),
    ({"port": "70000"}, "port", "65535"),
    ({"port": "abc"}, "port", "whole number"),
    ({"host": "pacs host/x"}, "host", "host name"),
    ({"host": "", "port": ""}, "host", "Give the host"),
    ({"port": ""}, "port", "Give the port"),
    ({"retrieve": "dicomweb"}, "dicomweb_url", "DICOMweb base URL"),
    ({"retrieve": "dicomweb", "dicomweb_url": "not a url"}, "dicomweb_url", "valid URL"),
    ({"retrieve": "fax"}, "retrieve", "valid choice"),
])
def test_bad_node_input_is_shown_on_its_field_and_nothing_is_saved(client, login, coordinator, network, changes,
                                                                   field, message):
    login(client, coordinator)
    answer = _post_node(client, network, **changes)
    assert answer.status_code == 200
    errors = answer.context["form"].errors
    assert field in errors and message in " ".join(errors[field]), errors
    assert f'id="id_{field}_error"' in answer.content.decode()
    assert not DicomNode.objects.exists()
    assert not AuditEvent.objects.filter(action="dicom.node.add").exists()


def test_a_duplicate_ae_title_and_another_networks_node_are_refused(client, login, coordinator, network,
                                                                    other_network):
    theirs = DicomNode.objects.create(network=other_network, name="Theirs", ae_title="GENPACS")
    login(client, coordinator)
    answer = _post_node(client, network)
    assert "ae_title" in answer.context["form"].errors
    answer = _post_node(client, other_network, ae_title="OTHER")  # not a network of theirs
    assert "network" in answer.context["form"].errors
    assert DicomNode.objects.count() == 1
    assert client.get(f"/records/dicom-nodes/{theirs.pk}/").status_code == 404
    assert client.post(f"/records/dicom-nodes/{theirs.pk}/toggle/").status_code == 404
    theirs.refresh_from_db()
    assert theirs.active and "Theirs" not in client.get("/records/dicom-nodes/").content.decode()


def test_a_failed_edit_keeps_the_node_as_saved(client, login, coordinator, network):
    node = DicomNode.objects.create(network=network, name="Kept", ae_title="KEPT", host="10.0.0.1", port=104,
                                    is_source=True)
    login(client, coordinator)
    answer = client.post(f"/records/dicom-nodes/{node.pk}/", {**VALID, "network": str(network.pk), "name": "New",
                                                              "ae_title": "NEW", "port": "0"})
    assert answer.status_code == 200 and "port" in answer.context["form"].errors
    node.refresh_from_db()
    assert (node.name, node.ae_title, node.port) == ("Kept", "KEPT", 104)
    assert "<h1>Kept</h1>" in answer.content.decode()


def test_others_may_not_configure_nodes(client, login, patient_user, specialist, network):
    for user in (patient_user, specialist.user):
        login(client, user)
        assert client.get("/records/dicom-nodes/").status_code == 403
        assert _post_node(client, network).status_code == 403
    client.logout()
    assert client.get("/records/dicom-nodes/").status_code == 302  # to sign in
    assert not DicomNode.objects.exists()


# --- a case's PACS page ------------------------------------------------------------------------------------------


@pytest.fixture
def down_pacs(network):
    """A source PACS of the network at an address where nobody answers."""
    return DicomNode.objects.create(network=network, name="Down PACS", ae_title="DOWNPACS", host="127.0.0.1",
                                    port=closed_port(), is_source=True)


def _pacs_url(case) -> str:
    return f"/records/cases/{case.pk}/pacs/"


def test_the_case_page_links_its_coordinators_to_the_pacs_page(client, login, coordinator, patient_user,
                                                               draft_case):
    login(client, coordinator)
    assert _pacs_url(draft_case) in client.get(f"/cases/{draft_case.pk}/").content.decode()
    login(client, patient_user)
    assert _pacs_url(draft_case) not in client.get(f"/cases/{draft_case.pk}/").content.decode()


def test_without_a_source_pacs_the_page_says_where_to_add_one(client, login, coordinator, draft_case):
    login(client, coordinator)
    answer = client.get(_pacs_url(draft_case))
    assert answer.status_code == 200
    assert 'id="no-source"' in answer.content.decode() and "/records/dicom-nodes/" in answer.content.decode()
    assert AuditEvent.objects.filter(action="dicom.pacs.page", object_id=str(draft_case.pk)).exists()


@pytest.mark.parametrize(("data", "field", "message"), [
    ({}, "PatientName", "at least one search field"),
    ({"StudyDate": "2024-01-01"}, "StudyDate", "YYYYMMDD"),
    ({"PatientBirthDate": "1970-1-1"}, "PatientBirthDate", "YYYYMMDD"),
    ({"PatientID": "x" * 65}, "PatientID", "at most 64"),
    ({"AccessionNumber": "A" * 17}, "AccessionNumber", "at most 16"),
    ({"PatientName": "Garc\x01a"}, "PatientName", "not valid"),
])
def test_bad_search_input_is_shown_on_its_field(client, login, coordinator, draft_case, down_pacs, data, field,
                                                message):
    login(client, coordinator)
    answer = client.post(_pacs_url(draft_case), {"node": str(down_pacs.pk), **data})
    assert answer.status_code == 400
    errors = answer.context["form"].errors
    assert field in errors and message in " ".join(errors[field]), errors
    assert not AuditEvent.objects.filter(action="dicom.pacs.find").exists()  # nothing was asked of the PACS


def test_another_networks_pacs_cannot_be_chosen(client, login, coordinator, draft_case, down_pacs, other_network):
    theirs = DicomNode.objects.create(network=other_network, name="Theirs", ae_title="THEIRS", host="127.0.0.1",
                                      port=closed_port(), is_source=True)
    login(client, coordinator)
    assert "THEIRS" not in client.get(_pacs_url(draft_case)).content.decode()
    answer = client.post(_pacs_url(draft_case), {"node": str(theirs.pk), "PatientID": "123"})
    assert answer.status_code == 400 and "node" in answer.context["form"].errors
    client.post(f"/records/cases/{draft_case.pk}/pacs/pull/", {"node": str(theirs.pk), "study_uid": "1.2.3"})
    assert not RetrieveJob.objects.exists()


def test_an_unreachable_pacs_gets_a_clear_message_and_an_audited_failure(client, login, coordinator, draft_case,
                                                                         down_pacs):
    login(client, coordinator)
    answer = client.post(_pacs_url(draft_case), {"node": str(down_pacs.pk), "PatientID": "MRN-1"})
    assert answer.status_code == 502
    assert "did not accept the connection" in " ".join(answer.context["form"].non_field_errors())
    assert 'role="alert"' in answer.content.decode() or "alert" in answer.content.decode()
    event = AuditEvent.objects.get(action="dicom.pacs.find", actor=coordinator)
    assert event.outcome == "error" and "MRN-1" not in str(event.detail)


def test_a_pull_from_an_unreachable_pacs_fails_with_its_reason(client, login, coordinator, draft_case, down_pacs,
                                                               django_capture_on_commit_callbacks):
    login(client, coordinator)
    url = f"/records/cases/{draft_case.pk}/pacs/pull/"
    with django_capture_on_commit_callbacks(execute=True):
        client.post(url, {"node": str(down_pacs.pk), "study_uid": "1.2.3.4"})
    answer = client.get(_pacs_url(draft_case))
    job = RetrieveJob.objects.get()
    assert job.state == RetrieveJob.State.FAILED and job.error == "pacs_unavailable"
    page = answer.content.decode()
    assert "could not be reached" in page and "1.2.3.4" in page
    assert AuditEvent.objects.filter(action="dicom.pacs.retrieve", object_id=str(job.pk)).exists()
    bad = client.post(url, {"node": str(down_pacs.pk), "study_uid": "1.2; DROP"}, follow=True)
    assert "not a study instance UID" in bad.content.decode()
    assert RetrieveJob.objects.count() == 1


def test_only_the_cases_coordinators_use_its_pacs_page(client, login, draft_case, down_pacs, patient_user,
                                                       other_coordinator):
    login(client, patient_user)
    assert client.get(_pacs_url(draft_case)).status_code == 403
    assert client.post(_pacs_url(draft_case), {"node": str(down_pacs.pk), "PatientID": "1"}).status_code == 403
    assert client.post(f"/records/cases/{draft_case.pk}/pacs/pull/",
                       {"node": str(down_pacs.pk), "study_uid": "1.2.3"}).status_code == 403
    login(client, other_coordinator)
    assert client.get(_pacs_url(draft_case)).status_code == 404
    assert not RetrieveJob.objects.exists()
    assert not AuditEvent.objects.filter(action="dicom.pacs.find").exists()


def test_a_closed_case_takes_no_pull(client, login, coordinator, draft_case, down_pacs):
    from konsil.cases.models import Case

    Case.objects.filter(pk=draft_case.pk).update(status="cancelled")  # set-up: a case closed earlier
    login(client, coordinator)
    page = client.get(_pacs_url(draft_case)).content.decode()
    assert "closed to new documents" in page and 'id="pacs-search"' not in page
    search = client.post(_pacs_url(draft_case), {"node": str(down_pacs.pk), "PatientID": "1"})
    assert search.status_code == 409 and not AuditEvent.objects.filter(action="dicom.pacs.find").exists()
    answer = client.post(f"/records/cases/{draft_case.pk}/pacs/pull/", {"node": str(down_pacs.pk),
                                                                        "study_uid": "1.2.3.4"}, follow=True)
    assert "closed to new documents" in answer.content.decode()
    assert not RetrieveJob.objects.exists()
