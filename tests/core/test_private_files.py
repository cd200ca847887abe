"""Files and the database are created private: KONSIL_HOME 0700, the SQLite file and key files 0600."""

from __future__ import annotations

import os
import stat
import subprocess
import sys


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_a_fresh_home_is_private(tmp_path):
    home = tmp_path / "home"
    code = ("import os; os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'konsil.settings'); import django;"
            "django.setup(); from django.db import connection; connection.ensure_connection();"
            "connection.cursor().execute('CREATE TABLE t (x int)'); connection.close()")
    env = {**os.environ, "KONSIL_HOME": str(home)}
    env.pop("DATABASE_URL", None)
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-1500:]
    assert mode(home) == 0o700
    for name in ("secret_key", "master_keys", "audit_key", "konsil.sqlite3"):
        assert mode(home / name) == 0o600, name


def test_an_existing_world_readable_home_is_tightened(tmp_path):
    home = tmp_path / "old"
    home.mkdir(mode=0o755)
    (home / "master_keys").write_text("k1:" + "A" * 43 + "=")
    os.chmod(home, 0o755)
    os.chmod(home / "master_keys", 0o644)
    env = {**os.environ, "KONSIL_HOME": str(home), "DJANGO_SETTINGS_MODULE": "konsil.settings"}
    done = subprocess.run([sys.executable, "-c", "import django; django.setup()"], env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-1500:]
    assert mode(home) == 0o700 and mode(home / "master_keys") == 0o600


def test_uploaded_files_are_private(settings):
    assert settings.FILE_UPLOAD_PERMISSIONS == 0o600
    assert settings.FILE_UPLOAD_DIRECTORY_PERMISSIONS == 0o700
