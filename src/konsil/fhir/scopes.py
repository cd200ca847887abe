"""SMART scopes (v2 `system/Type.cruds` and v1 `system/Type.read|write|*`) parsed into {type: {permissions}}."""

from __future__ import annotations

import re

SCOPE = re.compile(r"^system/(\*|[A-Z][A-Za-z]+)\.(\*|read|write|c?r?u?d?s?)$")
V1 = {"read": set("rs"), "write": set("cud"), "*": set("cruds")}


def parse(scope: str) -> dict[str, set[str]]:
    """{resource type or "*": permissions}; unknown words are dropped (the caller compares with the asked)."""
    granted: dict[str, set[str]] = {}
    for word in str(scope or "").split():
        m = SCOPE.match(word)
        if not m or not m.group(2):
            continue
        perms = V1.get(m.group(2), set(m.group(2)))
        granted.setdefault(m.group(1), set()).update(perms)
    return granted


def valid(word: str) -> bool:
    m = SCOPE.match(word)
    return bool(m and m.group(2))


def allows(scopes: list[str], resource_type: str, permission: str) -> bool:
    granted = parse(" ".join(scopes))
    return permission in granted.get(resource_type, set()) | granted.get("*", set())


def narrow(asked: str, registered: list[str]) -> list[str]:
    """The asked scopes the client is registered for (a word is kept when each of its permissions is granted)."""
    kept = []
    for word in str(asked or "").split():
        if not valid(word):
            continue
        wanted = parse(word)
        if all(all(allows(registered, rtype, p) for p in perms) for rtype, perms in wanted.items()):
            kept.append(word)
    return kept
