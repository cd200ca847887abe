"""Failures that pass: a database, broker or object store briefly away. Tasks retry them; requests answer 503."""

from __future__ import annotations

from django.db import InterfaceError, OperationalError


def _optional() -> tuple[type[BaseException], ...]:
    found: list[type[BaseException]] = []
    try:
        from botocore.exceptions import ConnectionClosedError, EndpointConnectionError, ReadTimeoutError

        found += [ConnectionClosedError, EndpointConnectionError, ReadTimeoutError]
    except ImportError:  # the `scale` extra is not installed
        pass
    try:
        from redis.exceptions import ConnectionError as RedisConnectionError
        from redis.exceptions import TimeoutError as RedisTimeoutError

        found += [RedisConnectionError, RedisTimeoutError]
    except ImportError:
        pass
    return tuple(found)


TRANSIENT: tuple[type[BaseException], ...] = (OperationalError, InterfaceError, ConnectionError, TimeoutError,
                                              *_optional())


def is_transient(exc: BaseException) -> bool:
    """True for an engine that is away (not for a locked SQLite file's programming errors or bad input)."""
    return isinstance(exc, TRANSIENT)
