"""Settings read from the environment, with embedded defaults (SQLite, local files, database task worker).

Environment variables:
  KONSIL_HOME            folder for the embedded default's state (default ./var)
  DATABASE_URL           e.g. postgres://user@127.0.0.1:5432/konsil (default: SQLite under KONSIL_HOME)
  KONSIL_SECRET_KEY      Django secret key (default: generated once into KONSIL_HOME/secret_key)
  KONSIL_MASTER_KEYS     "id:base64key,id2:base64key2" master keys wrapping file data keys
  KONSIL_MASTER_KEY_ID   id of the master key used for new files (default: the first one)
  KONSIL_KEY_PROVIDER    file | env | vault (KONSIL_VAULT_ADDR, KONSIL_VAULT_TOKEN[_FILE], KONSIL_VAULT_KEY, ...)
  KONSIL_FILES_DIR       local folder for encrypted files (default KONSIL_HOME/files)
  KONSIL_S3_BUCKET       S3-compatible bucket for the encrypted files instead (with KONSIL_S3_ENDPOINT_URL,
                         KONSIL_S3_REGION, KONSIL_S3_ACCESS_KEY, KONSIL_S3_SECRET_KEY, KONSIL_S3_PREFIX; `scale` extra)
  KONSIL_DEBUG           "1" for development
  KONSIL_ALLOWED_HOSTS   comma separated (default 127.0.0.1,localhost)
  KONSIL_SECURE_COOKIES  "1" behind HTTPS (default: on unless DEBUG or local)
  KONSIL_EMAIL_BACKEND   Django email backend (default: console)
  KONSIL_SESSION_MINUTES idle session timeout (default 30)
  KONSIL_SESSION_TOUCH_SECONDS how often activity re-saves a session to push its expiry (default 60)
  KONSIL_MAX_STUDY_BYTES largest upload (a study, an archive) in bytes (default 2 GiB)
  KONSIL_MAX_BATCH_FILES files one upload batch may hold (default 200; a CD folder counts as one)
  KONSIL_DICOM_NETWORK network slug for DICOM callers that are not configured nodes (default: the only one)
"""

from __future__ import annotations

import base64
import os
import secrets
from pathlib import Path

import dj_database_url
from django.utils.translation import gettext_lazy as _


def env_bool(name: str, default: bool = False) -> bool:
    """Read a boolean flag from the environment."""
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str) -> list[str]:
    """Read a comma-separated list from the environment."""
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


PACKAGE_DIR = Path(__file__).resolve().parent
HOME = Path(os.environ.get("KONSIL_HOME", Path.cwd() / "var")).resolve()
# Files Konsil creates are private to its user: the SQLite file, keys, checkpoints, local encrypted files.
os.umask(int(os.environ.get("KONSIL_UMASK", "077"), 8))
HOME.mkdir(mode=0o700, parents=True, exist_ok=True)
for _private in (HOME, *HOME.glob("konsil.sqlite3*"), *(HOME / name for name in ("secret_key", "master_keys",
                                                                               "audit_key"))):
    try:
        if _private.exists() and _private.stat().st_uid == os.getuid():
            _private.chmod(0o700 if _private.is_dir() else 0o600)
    except OSError:
        pass


def _persistent_secret(filename: str, factory) -> str:
    """A secret generated once and kept in KONSIL_HOME (embedded default only), created readable by us alone."""
    path = HOME / filename
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(factory())
    return path.read_text().strip()


SECRET_KEY = os.environ.get("KONSIL_SECRET_KEY") or _persistent_secret(
    "secret_key", lambda: secrets.token_urlsafe(50)
)
DEBUG = env_bool("KONSIL_DEBUG")
ALLOWED_HOSTS = env_list("KONSIL_ALLOWED_HOSTS", "127.0.0.1,localhost,testserver")
CSRF_TRUSTED_ORIGINS = env_list("KONSIL_CSRF_TRUSTED_ORIGINS", "http://127.0.0.1:8000,http://localhost:8000")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "corsheaders",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "axes",
    "django_tasks",
    "django_tasks_db",
    "konsil.core",
    "konsil.accounts",
    "konsil.audit",
    "konsil.matching",
    "konsil.cases",
    "konsil.triage",
    "konsil.opinions",
    "konsil.records",
    "konsil.fhir",
    "konsil.programs",
    "konsil.consults",
    "konsil.outcomes",
    "konsil.analytics",
    "konsil.ops",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "konsil.ops.middleware.UnavailableMiddleware",  # an engine away: 503 + Retry-After, never a 500
    "corsheaders.middleware.CorsMiddleware",  # CORS for /api/v1 and /fhir/R4, per FHIR client origin (fhir.cors)
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "konsil.core.middleware.SessionTouchMiddleware",  # idle timeout: one session write per minute, not per request
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "konsil.accounts.middleware.PreparedOTPMiddleware",  # django_otp's, its device read prepared
    "konsil.accounts.middleware.MFARequiredMiddleware",
    "konsil.core.middleware.RequestContextMiddleware",
    "konsil.core.health.MetricsMiddleware",  # Prometheus request counts and latencies per route (/metrics)
    "konsil.core.middleware.SecurityHeadersMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "konsil.urls"
FORM_RENDERER = "konsil.core.renderers.FormRenderer"  # Django's widget templates; selects written in Python
WSGI_APPLICATION = "konsil.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [PACKAGE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "konsil.core.context_processors.konsil",
            ],
        },
    }
]

DATABASES = {
    "default": dj_database_url.config(
        default=f"sqlite:///{HOME / 'konsil.sqlite3'}",
        conn_max_age=int(os.environ.get("KONSIL_DB_CONN_MAX_AGE", "60")),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    DATABASES["default"]["CONN_MAX_AGE"] = 0
elif os.environ.get("KONSIL_DB_POOL"):  # PostgreSQL: "min:max" pooled connections per process (psycopg_pool)
    _min, _sep, _max = os.environ["KONSIL_DB_POOL"].partition(":")
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {"min_size": int(_min or 1),
                                                              "max_size": int(_max or _min or 4), "timeout": 10}
    DATABASES["default"]["CONN_MAX_AGE"] = 0  # the pool keeps the connections
# PostgreSQL: values bound by the server and statements prepared per connection from their second run (psycopg's
# prepare_threshold): the server parses and plans each hot query once per connection instead of once per request
# (reads +24% in bench-load). KONSIL_DB_PREPARED=0 behind a pooler in transaction mode (PgBouncer), which cannot.
if DATABASES["default"]["ENGINE"].endswith("postgresql") and env_bool("KONSIL_DB_PREPARED", True):
    DATABASES["default"].setdefault("OPTIONS", {}).update(server_side_binding=True, prepare_threshold=2)
    DATABASES["default"]["ENGINE"] = "konsil.core.dbbackends.postgresql"  # bulk writes batched under 65,535 values

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "accounts:login"

# Login throttling (django-axes): lock an account+IP after repeated failures.
AXES_FAILURE_LIMIT = int(os.environ.get("KONSIL_LOGIN_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = 0.25  # hours
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_VERBOSE = False
AXES_LOCKOUT_CALLABLE = "konsil.accounts.views.lockout_response"
OTP_TOTP_ISSUER = "Konsil"
# Enrolling an authenticator first proves the account with a code e-mailed to it (not trust-on-first-use).
KONSIL_MFA_ENROL_PROOF = env_bool("KONSIL_MFA_ENROL_PROOF", True)

# Sessions and cookies.
SESSION_COOKIE_AGE = int(os.environ.get("KONSIL_SESSION_MINUTES", "30")) * 60
SESSION_SAVE_EVERY_REQUEST = False  # the idle timeout: core.middleware.SessionTouchMiddleware
KONSIL_SESSION_TOUCH_SECONDS = int(os.environ.get("KONSIL_SESSION_TOUCH_SECONDS", "60"))
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
LOCAL_HOSTS = {"127.0.0.1", "localhost", "testserver", "::1", "[::1]", "0.0.0.0"}  # noqa: S104 - names, not binds
# Secure cookies and HSTS whenever the app is served under a real name (not DEBUG, a host not on this machine).
SECURE_COOKIES = env_bool("KONSIL_SECURE_COOKIES", not DEBUG and any(h not in LOCAL_HOSTS for h in ALLOWED_HOSTS))
SESSION_COOKIE_SECURE = SECURE_COOKIES
CSRF_COOKIE_SECURE = SECURE_COOKIES
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
if SECURE_COOKIES:
    SECURE_HSTS_SECONDS = int(os.environ.get("KONSIL_HSTS_SECONDS", "31536000"))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("KONSIL_HSTS_SUBDOMAINS", False)
    SECURE_SSL_REDIRECT = env_bool("KONSIL_SSL_REDIRECT", True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# Internationalization.
LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("es", _("Spanish")), ("ja", _("Japanese"))]
LOCALE_PATHS = [PACKAGE_DIR / "locale"]
USE_I18N = True
USE_TZ = True
TIME_ZONE = os.environ.get("KONSIL_TIME_ZONE", "UTC")
LANGUAGE_COOKIE_NAME = "konsil_language"

STATIC_URL = "/static/"
STATIC_ROOT = HOME / "static"
STATIC_ROOT.mkdir(exist_ok=True)
STATICFILES_DIRS = [PACKAGE_DIR / "static"]
def file_storage(env) -> dict:
    """Encrypted objects go to a local folder, or to S3-compatible storage when KONSIL_S3_BUCKET is set."""
    if env.get("KONSIL_S3_BUCKET"):
        options = {"bucket_name": env["KONSIL_S3_BUCKET"], "file_overwrite": False, "default_acl": None,
                   "querystring_auth": True, "location": env.get("KONSIL_S3_PREFIX", "")}
        for option, name in (("endpoint_url", "KONSIL_S3_ENDPOINT_URL"), ("region_name", "KONSIL_S3_REGION"),
                             ("access_key", "KONSIL_S3_ACCESS_KEY"), ("secret_key", "KONSIL_S3_SECRET_KEY")):
            if env.get(name):
                options[option] = env[name]
        return {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": options}
    return {"BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": env.get("KONSIL_FILES_DIR", str(HOME / "files"))}}


STORAGES = {
    "default": file_storage(os.environ),
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG
FILE_UPLOAD_PERMISSIONS = 0o600
FILE_UPLOAD_DIRECTORY_PERMISSIONS = 0o700
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
KONSIL_MAX_ATTACHMENT_BYTES = int(os.environ.get("KONSIL_MAX_ATTACHMENT_BYTES", str(50 * 1024 * 1024)))  # plain form
# Records intake (resumable uploads): a study or archive, files a batch, chunk size, unfinished uploads' lifetime.
KONSIL_MAX_STUDY_BYTES = int(os.environ.get("KONSIL_MAX_STUDY_BYTES", str(2 * 1024**3)))
KONSIL_MAX_BATCH_FILES = int(os.environ.get("KONSIL_MAX_BATCH_FILES", "200"))
# A DICOM file larger than this is processed and rendered from its encrypted stream, frame by frame, never read
# whole (a 1 GB breast tomosynthesis or cine object); smaller records are read into memory.
KONSIL_RECORD_IN_MEMORY_BYTES = int(os.environ.get("KONSIL_RECORD_IN_MEMORY_BYTES", str(64 * 1024 * 1024)))
# The viewer keeps parsed DICOM instances for the next frames within this many bytes (their file sizes) per process.
KONSIL_RECORD_CACHE_BYTES = int(os.environ.get("KONSIL_RECORD_CACHE_BYTES", str(256 * 1024 * 1024)))
KONSIL_UPLOAD_CHUNK_BYTES = int(os.environ.get("KONSIL_UPLOAD_CHUNK_BYTES", str(8 * 1024 * 1024)))
KONSIL_UPLOAD_EXPIRY_HOURS = int(os.environ.get("KONSIL_UPLOAD_EXPIRY_HOURS", "48"))
KONSIL_ZIP_MAX_RATIO = int(os.environ.get("KONSIL_ZIP_MAX_RATIO", "100"))
# DICOM: the network of callers that are not configured nodes (slug; default: the only provider network).
KONSIL_DICOM_NETWORK = os.environ.get("KONSIL_DICOM_NETWORK", "")


def _master_keys() -> dict[str, bytes]:
    raw = os.environ.get("KONSIL_MASTER_KEYS") or _persistent_secret(
        "master_keys", lambda: "k1:" + base64.b64encode(secrets.token_bytes(32)).decode()
    )
    keys = {}
    for item in raw.split(","):
        key_id, _sep, b64 = item.strip().partition(":")
        keys[key_id] = base64.b64decode(b64)
    return keys


# Where master keys live (core.keyproviders, docs/security.md "Keys"): file (embedded default), env, vault.
KONSIL_KEY_PROVIDER = os.environ.get("KONSIL_KEY_PROVIDER") or (
    "env" if os.environ.get("KONSIL_MASTER_KEYS") else "file")
if KONSIL_KEY_PROVIDER == "env" and not os.environ.get("KONSIL_MASTER_KEYS"):
    raise RuntimeError("KONSIL_KEY_PROVIDER=env needs KONSIL_MASTER_KEYS")
KONSIL_MASTER_KEYS = _master_keys() if KONSIL_KEY_PROVIDER in ("file", "env") else {}
KONSIL_MASTER_KEY_ID = os.environ.get("KONSIL_MASTER_KEY_ID") or next(iter(KONSIL_MASTER_KEYS), "")
KONSIL_VAULT = {"url": os.environ.get("KONSIL_VAULT_ADDR", ""), "key": os.environ.get("KONSIL_VAULT_KEY", "konsil"),
                "mount": os.environ.get("KONSIL_VAULT_MOUNT", "transit"),
                "namespace": os.environ.get("KONSIL_VAULT_NAMESPACE", ""),
                "verify": os.environ.get("KONSIL_VAULT_CACERT") or True,
                "token": os.environ.get("KONSIL_VAULT_TOKEN") or (
                    Path(os.environ["KONSIL_VAULT_TOKEN_FILE"]).read_text().strip()
                    if os.environ.get("KONSIL_VAULT_TOKEN_FILE") else "")}

# The audit trail: a keyed hash chain (the key never in the database) and signed checkpoints of its head written
# outside the database (an append-only file by default; ship it to write-once storage). See docs/security.md.
KONSIL_AUDIT_KEY = base64.b64decode(os.environ.get("KONSIL_AUDIT_KEY") or _persistent_secret(
    "audit_key", lambda: base64.b64encode(secrets.token_bytes(32)).decode()))
KONSIL_AUDIT_CHECKPOINTS = os.environ.get("KONSIL_AUDIT_CHECKPOINTS", str(HOME / "audit_checkpoints.log"))
KONSIL_AUDIT_CHECKPOINT_SYSLOG = os.environ.get("KONSIL_AUDIT_CHECKPOINT_SYSLOG", "")  # "host:port" (UDP), optional
# "commit" (default): events are chained by a sequencer right after their transaction commits (no lock held during
# the business work); "inline": the chain head is locked from the first event to the end of the transaction.
KONSIL_AUDIT_SEAL = os.environ.get("KONSIL_AUDIT_SEAL", "commit")

# Pluggable engines: triage proposes, matching ranks. Later issues replace these.
KONSIL_TRIAGE_ENGINE = os.environ.get("KONSIL_TRIAGE_ENGINE", "konsil.triage.ml.ModelTriage")
KONSIL_MATCHING_ENGINE = os.environ.get("KONSIL_MATCHING_ENGINE", "konsil.matching.ranking.ScoredRanking")
KONSIL_SITE_URL = os.environ.get("KONSIL_SITE_URL", "http://127.0.0.1:8000")
# CORS (django-cors-headers): only the APIs, bearer tokens only (no cookies); origins per FHIR client (fhir.cors),
# plus any listed here for every client (comma-separated).
CORS_URLS_REGEX = r"^/(api/v1|fhir/R4)/.*$"
CORS_ALLOWED_ORIGINS = [o for o in os.environ.get("KONSIL_CORS_ORIGINS", "").split(",") if o]
CORS_ALLOW_CREDENTIALS = False
CORS_EXPOSE_HEADERS = ["Location", "ETag"]
# Webhook receivers must resolve to public addresses; list private networks an operator trusts (comma-separated CIDRs).
KONSIL_WEBHOOK_ALLOWED_NETWORKS = [n for n in os.environ.get("KONSIL_WEBHOOK_ALLOWED_NETWORKS", "").split(",") if n]
# Offers and review deadlines by urgency: the defaults live in cases/offers.py and core/deadlines.py (the review
# clock and matching's deadline factor share them); a deployment
# overrides them with KONSIL_OFFER_WINDOW_MINUTES, KONSIL_OFFER_MAX_MISSES, KONSIL_REVIEW_HOURS and
# KONSIL_REVIEW_REMINDER_AT in its settings module.

# Background work: Django tasks interface; the database backend and `konsil worker` by default, Celery on Redis with
# KONSIL_TASKS_BACKEND=celery. Queues, priorities and the run key: konsil/ops (docs/deployment.md).
_TASK_BACKENDS = {"database": "konsil.ops.backends.DatabaseBackend", "celery": "konsil.ops.backends.CeleryBackend"}
TASKS = {
    "default": {
        "BACKEND": _TASK_BACKENDS.get(os.environ.get("KONSIL_TASKS_BACKEND", "database"),
                                      os.environ.get("KONSIL_TASKS_BACKEND", "")),
        "QUEUES": ["urgent", "default", "imaging", "bulk"],
    }
}
KONSIL_CELERY_BROKER_URL = (os.environ.get("KONSIL_CELERY_BROKER_URL") or os.environ.get("KONSIL_REDIS_URL")
                            or "redis://127.0.0.1:6379/0")
KONSIL_CELERY_VISIBILITY_TIMEOUT = int(os.environ.get("KONSIL_CELERY_VISIBILITY_TIMEOUT", "3600"))
KONSIL_TASK_LEASE_SECONDS = int(os.environ.get("KONSIL_TASK_LEASE_SECONDS", "600"))  # renewed while a task runs
KONSIL_TASK_MAX_RETRIES = int(os.environ.get("KONSIL_TASK_MAX_RETRIES", "5"))  # transient failures, with backoff
KONSIL_TASK_REQUEUE_SECONDS = int(os.environ.get("KONSIL_TASK_REQUEUE_SECONDS", "900"))  # unstarted: sent again
KONSIL_WORKER_CONCURRENCY = int(os.environ.get("KONSIL_WORKER_CONCURRENCY", "1"))  # threads/processes per lane
KONSIL_RETRY_AFTER_SECONDS = int(os.environ.get("KONSIL_RETRY_AFTER_SECONDS", "5"))  # 503s while an engine is away

EMAIL_BACKEND = os.environ.get("KONSIL_EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = os.environ.get("KONSIL_FROM_EMAIL", "Konsil <no-reply@konsil.local>")

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "konsil.fhir.drf.SmartBearerAuthentication",  # SMART tokens of FHIR clients (service accounts)
        "konsil.accounts.tokens.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "konsil.core.limits.BoundedPagination",
    "DEFAULT_PARSER_CLASSES": ["konsil.core.limits.SafeJSONParser", "rest_framework.parsers.FormParser",
                               "rest_framework.parsers.MultiPartParser"],
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "konsil.core.api.exception_handler",
    "DEFAULT_THROTTLE_CLASSES": ["rest_framework.throttling.UserRateThrottle"],
    # X-Forwarded-For is trusted only from this many proxies in front of the app (0: the socket's address)
    "NUM_PROXIES": int(os.environ.get("KONSIL_NUM_PROXIES", "0")),
    "DEFAULT_THROTTLE_RATES": {"user": os.environ.get("KONSIL_API_RATE", "10000/hour")},
}
KONSIL_MAX_JSON_BYTES = int(os.environ.get("KONSIL_MAX_JSON_BYTES", str(1024 * 1024)))  # one API JSON body
KONSIL_MAX_JSON_DEPTH = int(os.environ.get("KONSIL_MAX_JSON_DEPTH", "32"))
KONSIL_MAX_PAGE_SIZE = int(os.environ.get("KONSIL_MAX_PAGE_SIZE", "200"))  # ?limit= is clamped to this
# The cache (throttle counters and rate limits) is shared by every worker: Redis when KONSIL_REDIS_URL is set, else
# a table in the database (`konsil run` creates it; elsewhere run `konsil manage createcachetable`).
CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                      "LOCATION": os.environ["KONSIL_REDIS_URL"]} if os.environ.get("KONSIL_REDIS_URL") else
          {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "konsil_cache"}}
# Sessions follow the cache: with Redis, read from it and written through to the database (survive a restart).
SESSION_ENGINE = os.environ.get("KONSIL_SESSION_ENGINE", "django.contrib.sessions.backends.cached_db"
                                if os.environ.get("KONSIL_REDIS_URL") else "django.contrib.sessions.backends.db")
# `konsil run`: gunicorn processes and threads per process (gthread workers).
KONSIL_WEB_WORKERS = int(os.environ.get("KONSIL_WEB_WORKERS", "2"))
KONSIL_WEB_THREADS = int(os.environ.get("KONSIL_WEB_THREADS", "4"))
# After its start-up warm-ups, a web or worker process moves what it keeps for life out of the cyclic garbage
# collector's reach (core/startup.py: gc.freeze); 0 keeps Python's default (for comparing, see bench/results-load.md).
KONSIL_GC_FREEZE = env_bool("KONSIL_GC_FREEZE", True)
KONSIL_CSP = os.environ.get("KONSIL_CSP", "")  # overrides the Content-Security-Policy (core/middleware.py)
KONSIL_API_TOKEN_DAYS = int(os.environ.get("KONSIL_API_TOKEN_DAYS", "30"))  # lifetime of a new API token
KONSIL_API_TOKEN_MAX_DAYS = int(os.environ.get("KONSIL_API_TOKEN_MAX_DAYS", "365"))
KONSIL_API_DOCS_PUBLIC = env_bool("KONSIL_API_DOCS_PUBLIC", False)  # /api/schema/ and /api/docs/ without sign-in
SPECTACULAR_SETTINGS = {
    "TITLE": "Konsil API",
    "DESCRIPTION": "Medical second opinions: cases, records, opinions, specialists.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # every /api/v1 operation documents its error bodies (400/401/403/404/409/413/415/429, core/api.py)
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums", "konsil.core.api.document_errors"],
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
                   "json": {"()": "konsil.core.logs.JsonFormatter"}},  # one JSON object a line, no PHI
    "handlers": {"console": {"class": "logging.StreamHandler",
                             "formatter": os.environ.get("KONSIL_LOG_FORMAT", "plain" if DEBUG else "json")}},
    "root": {"handlers": ["console"], "level": os.environ.get("KONSIL_LOG_LEVEL", "INFO")},
    # pydicom and pypdf quote element values and document bytes in their warnings: keep PHI out of the logs
    "loggers": {"axes": {"level": "WARNING"}, "django.request": {"level": "ERROR"},
                "pydicom": {"level": "CRITICAL"}, "pypdf": {"level": "CRITICAL"}},
}
KONSIL_VERSION = __import__("konsil").__version__
# /metrics (core/health.py): a bearer token, or callers from these networks (default: this machine only).
KONSIL_METRICS_TOKEN = os.environ.get("KONSIL_METRICS_TOKEN", "")
KONSIL_METRICS_NETWORKS = env_list("KONSIL_METRICS_NETWORKS", "127.0.0.1/32,::1/128")
# The product's face: its name in the header, title and emails, and its logo (a static path or an absolute URL).
# The provider network that self-signed-up patients join (a slug); empty: the only active provider network.
KONSIL_SIGNUP_NETWORK = os.environ.get("KONSIL_SIGNUP_NETWORK", "").strip()
KONSIL_BRAND_NAME = os.environ.get("KONSIL_BRAND_NAME", "Konsil")
KONSIL_BRAND_LOGO = os.environ.get("KONSIL_BRAND_LOGO", "konsil/logo.svg")
# Demo mode: the sign-in page lists the demo people. "auto" (default): when the demo data is loaded.
KONSIL_DEMO = os.environ.get("KONSIL_DEMO", "auto").strip().lower()
