"""Specialist lists in alphabetical order and the admin's name search, although names are encrypted at rest."""

from __future__ import annotations

from django.db import connection
from django.urls import reverse

from konsil.matching import selectors
from konsil.matching.models import Specialist

from ..api.conftest import API, token_client
from ..factories import UserFactory, make_specialist

# Given in an order unlike the alphabet's; the accent and the lower-case particle sort as a reader expects.
NAMES = [("Zoe", "Young"), ("Ben", "Álvarez"), ("Ada", "Moreno"), ("Carl", "de Souza"), ("Ana", "Moreno"),
         ("Eve", "Baker"), ("Ian", "Nakamura")]
ALPHABETICAL = ["Álvarez", "Baker", "de Souza", "Moreno", "Moreno", "Nakamura", "Young"]


def _directory(network):
    return [make_specialist(network, first_name=first, last_name=last) for first, last in NAMES]





def test_names_are_encrypted_so_the_database_cannot_sort_them(network):
    _directory(network)
    with connection.cursor() as cursor:
        cursor.execute("SELECT last_name FROM accounts_user WHERE last_name LIKE 'enc1:%%'")
        assert len(cursor.fetchall()) >= len(NAMES)


def test_directory_selector_sorts_by_last_then_first_name(network):
    _directory(network)
    ordered = selectors.by_name(Specialist.objects.filter(network=network))
    assert [s.user.last_name for s in ordered] == ALPHABETICAL
    morenos = [s.user.first_name for s in ordered if s.user.last_name == "Moreno"]
    assert morenos == ["Ada", "Ana"]
    assert [s.user.last_name for s in selectors.by_name(Specialist.objects.all(), limit=3)] == ALPHABETICAL[:3]


def test_api_directory_is_alphabetical_across_pages(network, coordinator):
    _directory(network)
    client = token_client(coordinator)
    whole = client.get(f"{API}/specialists/")
    assert whole.status_code == 200
    body = whole.json()
    assert body["count"] == len(NAMES)
    names = [s["name"] for s in body["results"]]
    assert [n.split(" ", 1)[1] for n in names] == ALPHABETICAL
    page = client.get(f"{API}/specialists/?limit=2&offset=2").json()
    assert [s["name"] for s in page["results"]] == names[2:4]
    filtered = client.get(f"{API}/specialists/?specialty=cardiology&limit=3").json()
    assert [s["name"] for s in filtered["results"]] == names[:3]


def test_admin_finds_specialists_by_last_name(client, login, network):
    _directory(network)
    superuser = UserFactory(is_staff=True, is_superuser=True)
    login(client, superuser)
    url = reverse("admin:matching_specialist_changelist")

    def found(term):
        response = client.get(url, {"q": term})
        assert response.status_code == 200
        return sorted(s.user.get_full_name() for s in response.context["cl"].result_list)

    assert found("Nakamura") == ["Ian Nakamura"]
    assert found("moreno") == ["Ada Moreno", "Ana Moreno"]  # any case
    assert found("Ana Moreno") == ["Ana Moreno"]  # every word must match
    assert found("de Souza") == ["Carl de Souza"]
    assert found("Smith") == []
    every = client.get(url)
    assert every.status_code == 200 and len(every.context["cl"].result_list) == len(NAMES)


def test_no_default_ordering_names_an_encrypted_field():
    """A model's Meta.ordering on an encrypted column would order by ciphertext: lists that look sorted but are not."""
    from django.apps import apps

    from konsil.core.fields import EncryptedTextField  # every encrypted field is one

    wrong = []
    for model in apps.get_models():
        for term in model._meta.ordering:
            if not isinstance(term, str):  # an expression (F, OrderBy): not a column named here
                continue
            path, target = term.lstrip("-").split("__"), model
            for name in path:
                field = target._meta.get_field(name)
                target = field.related_model or target
            if isinstance(field, EncryptedTextField):
                wrong.append(f"{model._meta.label}: {term}")
    assert not wrong


def test_default_ordered_specialists_are_in_a_lasting_order_and_shown_by_name(network):
    _directory(network)
    assert Specialist._meta.ordering == ["npi"]
    listed = list(Specialist.objects.filter(network=network))
    assert [s.npi for s in listed] == sorted(s.npi for s in listed)
    assert [s.user.last_name for s in selectors.by_name(Specialist.objects.filter(network=network))] == ALPHABETICAL
