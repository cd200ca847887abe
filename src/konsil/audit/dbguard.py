"""The database itself refuses to rewrite the audit trail, on both engines.

Events: no UPDATE, no DELETE. The chain head: never deleted, never moved back. A database administrator can still
drop these triggers; the keyed chain and the checkpoints outside the database are what catch that (services.verify).
On SQLite a migration that rebuilds one of these tables drops its triggers: `install` puts them back and
`konsil audit verify` reports when they are missing.
"""

from __future__ import annotations

SQLITE_TRIGGERS = {
    "audit_auditevent_no_update": "BEFORE UPDATE ON audit_auditevent BEGIN "
                                  "SELECT RAISE(ABORT, 'audit events are append-only'); END",
    "audit_auditevent_no_delete": "BEFORE DELETE ON audit_auditevent BEGIN "
                                  "SELECT RAISE(ABORT, 'audit events are append-only'); END",
    "audit_chainhead_forward": "BEFORE UPDATE ON audit_chainhead WHEN NEW.seq < OLD.seq BEGIN "
                               "SELECT RAISE(ABORT, 'the audit chain head only moves forward'); END",
    "audit_chainhead_no_delete": "BEFORE DELETE ON audit_chainhead BEGIN "
                                 "SELECT RAISE(ABORT, 'the audit chain head only moves forward'); END",
}
PG_HEAD_CREATE = """
CREATE OR REPLACE FUNCTION konsil_audit_head_forward() RETURNS trigger AS $$
BEGIN
  IF TG_OP = 'DELETE' OR NEW.seq < OLD.seq THEN
    RAISE EXCEPTION 'the audit chain head only moves forward';
  END IF;
  RETURN NEW;
END;
$$ LANGUAGE plpgsql;
DROP TRIGGER IF EXISTS audit_chainhead_forward ON audit_chainhead;
CREATE TRIGGER audit_chainhead_forward BEFORE UPDATE OR DELETE ON audit_chainhead
  FOR EACH ROW EXECUTE FUNCTION konsil_audit_head_forward();
"""
PG_HEAD_DROP = """
DROP TRIGGER IF EXISTS audit_chainhead_forward ON audit_chainhead;
DROP FUNCTION IF EXISTS konsil_audit_head_forward();
"""
PG_TRIGGERS = {"audit_auditevent": "audit_auditevent_append_only", "audit_chainhead": "audit_chainhead_forward"}


def install(connection) -> None:
    """Create the triggers this engine needs (idempotent). PostgreSQL's event trigger comes from migration 0002."""
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            for name, body in SQLITE_TRIGGERS.items():
                cursor.execute(f"CREATE TRIGGER IF NOT EXISTS {name} {body}")
        elif connection.vendor == "postgresql":
            cursor.execute(PG_HEAD_CREATE)


def uninstall(connection) -> None:
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            for name in SQLITE_TRIGGERS:
                cursor.execute(f"DROP TRIGGER IF EXISTS {name}")
        elif connection.vendor == "postgresql":
            cursor.execute(PG_HEAD_DROP)


def missing(connection) -> list[str]:
    """Names of the protecting triggers that are absent (or disabled, on PostgreSQL)."""
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")
            present = {row[0] for row in cursor.fetchall()}
            return [name for name in SQLITE_TRIGGERS if name not in present]
        if connection.vendor == "postgresql":
            cursor.execute("SELECT tgname FROM pg_trigger WHERE tgname = ANY(%s) AND tgenabled <> 'D'",
                           [list(PG_TRIGGERS.values())])
            present = {row[0] for row in cursor.fetchall()}
            return [name for name in PG_TRIGGERS.values() if name not in present]
    return []
