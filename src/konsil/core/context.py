"""Per-request context (client IP, request id) for the audit trail, set by middleware."""

from __future__ import annotations

import contextvars
from contextlib import contextmanager
from dataclasses import dataclass


@dataclass(frozen=True)
class RequestContext:
    ip: str | None = None
    user_agent: str = ""
    channel: str = "system"  # web | api | cli | worker | system


_EMPTY = RequestContext()
_current: contextvars.ContextVar[RequestContext | None] = contextvars.ContextVar("konsil_request", default=None)


def reader_language() -> str:
    """The base code of the language being read ("es" for es-419): the request's or the override's; "en" outside
    any."""
    from django.utils import translation

    return (translation.get_language() or "en").split("-")[0]


def current() -> RequestContext:
    return _current.get() or _EMPTY


def set_current(ctx: RequestContext):
    return _current.set(ctx)


def reset(token) -> None:
    _current.reset(token)


# A read request's memo: answers that cannot change while nothing is written (how a user relates to a case),
# kept for the rest of the request. Only GET/HEAD requests have one; saving or deleting any model outside the
# audit trail empties it (core.apps), so a read that writes reads afresh.
_memo: contextvars.ContextVar[dict | None] = contextvars.ContextVar("konsil_read_memo", default=None)


def memo() -> dict | None:
    """The current read request's memo, or None outside one (writes, tasks, the shell: nothing is kept)."""
    return _memo.get()


def remembered(key: tuple, compute):
    """`compute()`, kept under `key` for the rest of the read request (computed every time outside one)."""
    kept = _memo.get()
    if kept is None:
        return compute()
    if key not in kept:
        kept[key] = compute()
    return kept[key]


def start_memo():
    return _memo.set({})


def end_memo(token) -> None:
    _memo.reset(token)


@contextmanager
def reading():
    """A memo for a stretch of reads inside a write request (its response body, once the write is done); inside a
    read request, that request's memo."""
    if _memo.get() is not None:
        yield
        return
    token = _memo.set({})
    try:
        yield
    finally:
        _memo.reset(token)


def forget(*_args, sender=None, **_kwargs) -> None:
    """Empty the memo (a signal receiver: a model was saved or deleted)."""
    kept = _memo.get()
    if kept and getattr(getattr(sender, "_meta", None), "app_label", "") != "audit":
        kept.clear()
