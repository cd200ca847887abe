"""Start-up warm-ups: what requests and tasks read lazily (indexes, models) is built when a process starts, not
by the first patient's request. Apps register a warm-up in their AppConfig.ready(); the web process runs the web
ones in a background thread (wsgi.py: it answers /healthz at once, and a request that needs an index meanwhile
waits on that index's lock), each task worker runs the worker ones before its first task."""

from __future__ import annotations

import gc
import logging
import threading
import time
from collections.abc import Callable

logger = logging.getLogger(__name__)

_warmups: dict[str, tuple[Callable[[], None], frozenset[str]]] = {}


def on_start(name: str, warm: Callable[[], None], *, where: tuple[str, ...] = ("web", "worker")) -> None:
    """Run `warm` once when a process of a kind in `where` starts; `name` makes registering twice harmless."""
    _warmups[name] = (warm, frozenset(where))


def warm(kind: str) -> None:
    """Run the warm-ups registered for `kind` ("web" or "worker"); one that fails is logged by its name and
    exception class only (the message may quote patient data), and the process goes on."""
    started, done = time.perf_counter(), []
    for name, (call, where) in list(_warmups.items()):
        if kind not in where:
            continue
        try:
            call()
            done.append(name)
        except Exception as exc:
            logger.warning("start-up warm-up %s failed (%s)", name, type(exc).__name__)
    logger.info("%s process warmed (%s) in %.1f s", kind, ", ".join(done) or "nothing", time.perf_counter() - started)
    freeze_long_lived()


def freeze_long_lived() -> None:
    """Move what the process has built so far (code, indexes, the model: kept for its lifetime) out of the cyclic
    garbage collector's reach (gc.freeze). Otherwise every full collection walks all of it again, about 1.1 million
    objects and 0.45 s with the GIL held in a warmed web process, and every thread's request waits meanwhile: that
    pause was the tail of `make bench-load`. KONSIL_GC_FREEZE=0 leaves the collector as Python sets it."""
    from django.conf import settings

    if not getattr(settings, "KONSIL_GC_FREEZE", True):
        return
    gc.collect()  # garbage of the start-up first: frozen objects are never collected
    gc.freeze()


def warm_in_background(kind: str) -> threading.Thread:
    thread = threading.Thread(target=warm, args=(kind,), name=f"konsil-warm-{kind}", daemon=True)
    thread.start()
    return thread
