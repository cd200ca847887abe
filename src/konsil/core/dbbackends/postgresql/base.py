"""Django's PostgreSQL backend, with batches kept under the server's limit on bind parameters.

With server-side binding (settings.py, KONSIL_DB_PREPARED) every value travels as a bind parameter, and PostgreSQL
takes at most 65,535 of them per statement. Django splits bulk inserts and updates, and `in_bulk`, only where a
backend says so (SQLite, Oracle); here it says so, so that a large roster, rollup or seed is written in batches
instead of failing. With client-side binding the values are inlined and nothing changes.
"""

from __future__ import annotations

from django.db.backends.postgresql import base, features, operations

MAX_BIND_PARAMETERS = 65535


def _server_binding(connection) -> bool:
    return connection.settings_dict.get("OPTIONS", {}).get("server_side_binding") is True


class DatabaseFeatures(features.DatabaseFeatures):
    @property
    def max_query_params(self):
        return MAX_BIND_PARAMETERS if _server_binding(self.connection) else None


class DatabaseOperations(operations.DatabaseOperations):
    def bulk_batch_size(self, fields, objs):
        if not _server_binding(self.connection):
            return super().bulk_batch_size(fields, objs)
        return max(1, min(len(objs), MAX_BIND_PARAMETERS // max(1, len(fields))))


class DatabaseWrapper(base.DatabaseWrapper):
    features_class = DatabaseFeatures
    ops_class = DatabaseOperations
