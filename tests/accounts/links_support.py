"""Following an e-mailed single-use link as a browser does: link.js posts the secret after '#'."""

from __future__ import annotations

import re

LANDING = "/accounts/link/"


def mailed_link(message) -> str:
    return re.search(r"https?://\S+", message.body).group(0)


def link_fragment(message) -> str:
    url = mailed_link(message)
    path, sep, fragment = url.partition("#")
    assert sep and path.partition("?")[0].endswith(LANDING), url  # the secret is never in the path or query
    return fragment


def open_link(client, message) -> str:
    """Post the link's fragment to the landing page; the plain address it leads on to."""
    response = client.post(LANDING, {"link": link_fragment(message)})
    assert response.status_code == 302, response.status_code
    return response["Location"]
