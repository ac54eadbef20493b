"""
Settings for the Snippets project, read from the environment (12-factor).

Lines ending in `# demo`, and blocks from `# demo:` to `# end of demo`,  # demo
belong to the demo app (`snippets/`): docs/forking.md removes them with it.  # demo

Every setting has a row in docs/settings.md. `DEBUG` is off unless
asked for; with it on and only local hosts allowed (`.env` does that for honcho,
unless the environment sets `DEBUG` or `SECRET_KEY`),
nothing else needs setting. Anything else refuses to start without `SECRET_KEY`,
`ALLOWED_HOSTS` and `REDIS_URL`, naming the missing one.
"""

import os
import sys
from datetime import timedelta
from pathlib import Path

import dj_database_url
from corsheaders.defaults import default_headers
from django.core.exceptions import ImproperlyConfigured

from live import localredis
from live.limits import ServerConfig

BASE_DIR = Path(__file__).resolve().parent.parent


TRUE_WORDS = {"1", "true", "yes", "on"}


def env_bool(name, default):
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in TRUE_WORDS


def env_int(name, default):
    value = os.environ.get(name)
    return int(value) if value not in (None, "") else default


def env_list(name, default):
    value = os.environ.get(name)
    if value is None:
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


# Off unless asked for: a deploy that forgets it must not show debug pages. Local
# use asks for it with `LOCAL_DEBUG` in `.env` (read by honcho and foreman, and
# here for commands run by hand; a `DEBUG` line there would beat a deployer's
# exported `DEBUG=false`, as honcho lets `.env` win); it counts only where
# neither `DEBUG` nor `SECRET_KEY` is set, so a server with its production
# variables exported never runs in debug mode, whatever `.env` says.
def local_debug():
    """`LOCAL_DEBUG` from the environment, else from the checkout's `.env`, so
    that a command run by hand (`python manage.py makemigrations`) is local use
    too, as under honcho."""
    if "LOCAL_DEBUG" in os.environ:
        return env_bool("LOCAL_DEBUG", False)
    dotenv = BASE_DIR / ".env"
    lines = dotenv.read_text().splitlines() if dotenv.exists() else []
    values = dict(line.split("=", 1) for line in lines if line[:1].isalpha())
    return values.get("LOCAL_DEBUG", "").strip().lower() in TRUE_WORDS


DEBUG = env_bool("DEBUG", "SECRET_KEY" not in os.environ and local_debug())

# What a process outside local use lacks, each with its fix: it refuses to
# start naming them all (at the end of this file). A build step (a platform's
# `collectstatic`, run with no runtime configuration) needs none of them.
MISSING = []
BUILDING = sys.argv[1:2] == ["collectstatic"]

LOCAL_HOSTS = ["localhost", "127.0.0.1", "[::1]"]
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", LOCAL_HOSTS if DEBUG else [])
if not ALLOWED_HOSTS:
    MISSING.append(
        "ALLOWED_HOSTS is required when DEBUG is off: set it to the host names the "
        "app is served under, comma-separated (e.g. app.example.com)."
    )
# Development on this machine: the only case where the published development key
# and a private Redis are acceptable.
LOCAL_DEVELOPMENT = DEBUG and all(host in LOCAL_HOSTS for host in ALLOWED_HOSTS)

# A fixed development key keeps tokens valid across processes and restarts; a
# random per-process key would break every JWT issued by a sibling worker.
DEVELOPMENT_SECRET_KEY = "django-insecure-development-key-never-use-in-production"
# (A build signs nothing: the development key lets it load Django's apps.)
SECRET_KEY = os.environ.get("SECRET_KEY") or (
    DEVELOPMENT_SECRET_KEY if LOCAL_DEVELOPMENT or BUILDING else ""
)
if not SECRET_KEY:
    MISSING.append(
        "SECRET_KEY is required when DEBUG is off or ALLOWED_HOSTS names a host "
        "other than this machine: set the SECRET_KEY environment variable to a "
        "long random string shared by every process."
    )

# Heroku-style routers terminate TLS and say so in X-Forwarded-Proto.
# https://docs.djangoproject.com/en/5.2/ref/settings/#secure-proxy-ssl-header
NUM_PROXIES = env_int("NUM_PROXIES", 0)
if NUM_PROXIES:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# Outside development the site is HTTPS only, as Django's deploy checklist asks
# (`manage.py check --deploy`): plain HTTP is redirected, but for `/healthz`
# and `/metrics`, which a platform's health check or an in-cluster scraper may
# call by address over HTTP; browsers are told to use HTTPS for a year (HSTS);
# cookies travel over HTTPS only; a plain `ws://` handshake is refused.
# https://docs.djangoproject.com/en/5.2/howto/deployment/checklist/
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^metrics$"]
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31_536_000)
# Subdomains of the app's own host name (my-app.herokuapp.com's, not Heroku's).
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
# Preloading binds a whole registered domain for good, and takes a submission by
# its owner besides the header: the owner's choice, so off unless asked, and its
# check reminder (security.W021) silenced.
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
SILENCED_SYSTEM_CHECKS = ["security.W021"]
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = not DEBUG
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    # Serve static files with WhiteNoise in development too, as in production.
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "corsheaders",
    "rest_framework",
    "django_filters",  # its form in the browsable API
    # Sign-out blacklists the refresh token (and ends the user's subscriptions).
    "rest_framework_simplejwt.token_blacklist",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    # The live layer: events, the bridge's app side, sign-in, the API documents.
    "live",
    "snippets",  # demo
]

MIDDLEWARE = [
    # First, so that its one line per request sees every answer.
    "live.requestlog.RequestLogMiddleware",
    # Says once, with the fix, when a proxy's HTTPS would loop the redirect.
    "live.proxies.ProxyHintMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    # /healthz and /metrics for any Host; everything after it checks the Host.
    "live.health.HealthCheckMiddleware",
    # ETag on every GET, 304 for If-None-Match (live/conditional.py: If-Match).
    "django.middleware.http.ConditionalGetMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Django's messages, only for requests that may get a page.
    "live.pageonly.PageMessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "live.middleware.LoginThrottleMiddleware",
    "live.views.SubscriberMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        # static/index.html, the demo page, is rendered with its configuration.
        "DIRS": [BASE_DIR / "static"],  # demo
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# SQLite in the project folder for local use; DATABASE_URL names the database
# every process shares (PostgreSQL). Elsewhere a file in the project folder would
# be lost on restart and differ per process, so it is required there.
# conn_max_age keeps one connection per thread instead of one per request.
if "DATABASE_URL" not in os.environ and not LOCAL_DEVELOPMENT:
    MISSING.append(
        "DATABASE_URL is required when DEBUG is off or ALLOWED_HOSTS names a host "
        "other than this machine: set it to the database every process shares, "
        "e.g. postgres://user:password@host:5432/name."
    )
DATABASES = {
    "default": dj_database_url.config(
        default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        conn_max_age=env_int("CONN_MAX_AGE", 600),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Several threads and processes write at once: take the write lock up front
    # and wait for it, rather than fail with "database is locked".
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# With no REDIS_URL in development, a private Redis on a socket in the project
# folder is started on first use (see live/localredis.py). Production must
# name the Redis every process shares.
REDIS_URL = os.environ.get("REDIS_URL") or (
    localredis.for_this_process(BASE_DIR) if LOCAL_DEVELOPMENT and not BUILDING else ""
)
if not REDIS_URL:
    MISSING.append(
        "REDIS_URL is required when DEBUG is off or ALLOWED_HOSTS names a host other "
        "than this machine: set it to the Redis that every "
        "web and clock process shares, e.g. redis://localhost:6379/0."
    )
# Every key and channel this app writes starts with this prefix, so several
# deployments (or test runs) can share one Redis; nothing ever flushes it.
REDIS_KEY_PREFIX = os.environ.get("REDIS_KEY_PREFIX", "snippets")
# The live app's own settings are `LIVE_<NAME>`, each with a default
# (live/conf.py); from the environment under their plain names. The history of
# changes (a Redis stream, `<REDIS_KEY_PREFIX>:events`) that every web process
# reads; positions in it let subscribers resume. Capped at this length.
LIVE_EVENTS_HISTORY = env_int("EVENTS_HISTORY", 10_000)
# Fail fast (and say so) rather than hang on a stuck Redis.
REDIS_TIMEOUT_SECONDS = env_int("REDIS_TIMEOUT_SECONDS", 5)
# Heroku-style Redis add-ons serve `rediss://` with a self-signed certificate;
# `none` accepts it (the link is still encrypted). redis-py's names, and default.
REDIS_SSL_CERT_REQS = os.environ.get("REDIS_SSL_CERT_REQS", "required")
if REDIS_SSL_CERT_REQS not in ("required", "none"):
    raise ImproperlyConfigured(
        "REDIS_SSL_CERT_REQS must be 'required' or 'none', "
        f"not {REDIS_SSL_CERT_REQS!r}."
    )
# Keyword arguments for every Redis client of the app alike (redis-py's names).
REDIS_OPTIONS = {
    "socket_timeout": REDIS_TIMEOUT_SECONDS,
    "socket_connect_timeout": REDIS_TIMEOUT_SECONDS,
}
if REDIS_URL.startswith("rediss://"):
    REDIS_OPTIONS["ssl_cert_reqs"] = REDIS_SSL_CERT_REQS

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": f"django.contrib.auth.password_validation.{name}"}
    for name in (
        "UserAttributeSimilarityValidator",
        "MinimumLengthValidator",
        "CommonPasswordValidator",
        "NumericPasswordValidator",
    )
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]  # demo
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

# The API
ANON_THROTTLE_RATE = os.environ.get("ANON_THROTTLE_RATE", "120/min")
USER_THROTTLE_RATE = os.environ.get("USER_THROTTLE_RATE", "600/min")
# Sign-in attempts, per client address; failed ones per username, from clients
# that never signed in as it: more than one address may make (live/middleware.py).
LIVE_LOGIN_THROTTLE_RATE = os.environ.get("LOGIN_THROTTLE_RATE", "10/min")
LIVE_LOGIN_ACCOUNT_THROTTLE_RATE = os.environ.get(
    "LOGIN_ACCOUNT_THROTTLE_RATE", "30/min"
)
LIVE_JSON_MAX_DEPTH = env_int("JSON_MAX_DEPTH", 32)
# The largest request body taken (413 beyond): room for the demo's largest
# snippet (100 KiB of code) even if every byte of it is JSON-escaped.
REQUEST_MAX_BYTES = env_int("REQUEST_MAX_BYTES", 1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = REQUEST_MAX_BYTES
# demo: the demo app's settings, down to "end of demo" (docs/forking.md).
SNIPPET_MAX_CODE_BYTES = env_int("SNIPPET_MAX_CODE_BYTES", 100 * 1024)
SNIPPET_CREATE_REQUIRES_LOGIN = env_bool("SNIPPET_CREATE_REQUIRES_LOGIN", False)
SNIPPET_TTL_SECONDS = env_int("SNIPPET_TTL_SECONDS", 600)
SNIPPETS_MAX = env_int("SNIPPETS_MAX", 1000)
ERASE_INTERVAL_SECONDS = env_int("ERASE_INTERVAL_SECONDS", 60)
# end of demo
# Where the pages connect; empty means the page's own origin + /ws/api.
LIVE_WEBSOCKET_URL = os.environ.get("WEBSOCKET_URL", "")

# Frontends served from elsewhere, by exact origin (scheme, host and port): their
# pages may call the API over HTTP (CORS), and open its sockets and event
# streams. `WS_ALLOWED_ORIGINS` is its earlier name, still read.
ALLOWED_ORIGINS = env_list("ALLOWED_ORIGINS", [])
if "WS_ALLOWED_ORIGINS" in os.environ:
    if "ALLOWED_ORIGINS" in os.environ:
        raise ImproperlyConfigured(
            "WS_ALLOWED_ORIGINS is the earlier name of ALLOWED_ORIGINS: set only "
            "ALLOWED_ORIGINS."
        )
    ALLOWED_ORIGINS = env_list("WS_ALLOWED_ORIGINS", [])
CORS_ALLOWED_ORIGINS = ALLOWED_ORIGINS
CORS_URLS_REGEX = r"^/(api/|healthz$)"  # the API; the admin and pages stay same-origin
# What the browser client reads (a 429's wait, a creation's address). The token
# travels in a header, so no credentials mode: cookies never cross origins.
CORS_EXPOSE_HEADERS = ["Retry-After", "Location", "ETag"]
# Conditional requests: a client's copy (If-None-Match) or edit (If-Match).
CORS_ALLOW_HEADERS = (*default_headers, "if-match", "if-none-match")

# The WebSocket server's limits (WS_*) have defaults of their own
# (live/limits.py); any of them may be set from the environment. Each
# answers with a status and a detail, or closes with a code: docs/settings.md.
globals().update(ServerConfig.environ_settings(os.environ))

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # First, so a request without credentials gets 401 and WWW-Authenticate.
        "live.tokens.SessionJWTAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": [
        "rest_framework.permissions.IsAuthenticatedOrReadOnly",
    ],
    "DEFAULT_THROTTLE_CLASSES": [
        "live.throttling.AnonRateThrottle",
        "live.throttling.UserRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": ANON_THROTTLE_RATE,
        "user": USER_THROTTLE_RATE,
    },
    "DEFAULT_PARSER_CLASSES": [
        "live.parsers.DepthLimitedJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_PAGINATION_CLASS": "live.pagination.StrictPageNumberPagination",
    "PAGE_SIZE": 10,
    "NUM_PROXIES": NUM_PROXIES,
    "DEFAULT_SCHEMA_CLASS": "live.schema.AutoSchema",
}

SIMPLE_JWT = {
    # The seed's clients send `Authorization: JWT <token>`; `Bearer` is today's norm.
    "AUTH_HEADER_TYPES": ("JWT", "Bearer"),
    "SIGNING_KEY": SECRET_KEY,
    "ACCESS_TOKEN_LIFETIME": timedelta(
        seconds=env_int("ACCESS_TOKEN_LIFETIME_SECONDS", 300)
    ),
    # A password change ends the tokens issued before it (and subscriptions).
    "CHECK_REVOKE_TOKEN": True,
    # Access tokens name their session, so that sign-out ends them at once.
    "TOKEN_OBTAIN_SERIALIZER": "live.tokens.SignInSerializer",
    "TOKEN_REFRESH_SERIALIZER": "live.tokens.RefreshSerializer",
    # Sign-out ends the session (durably, in the database) with the refresh token.
    "TOKEN_BLACKLIST_SERIALIZER": "live.tokens.SignOutSerializer",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Snippets API",
    "DESCRIPTION": (
        "Code snippets with Pygments highlighting, over HTTP and WebSocket. The "
        "same operations over WebSocket: [/api/asyncapi.json](/api/asyncapi.json) "
        "(AsyncAPI 3.0), to try in the [playground](/api/playground/)."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Request bodies get components of their own, without the read-only fields
    # (what the WebSocket description, /api/asyncapi.json, derives from).
    "COMPONENT_SPLIT_REQUEST": True,
    "EXTERNAL_DOCS": {
        "description": "The same operations over WebSocket (AsyncAPI 3.0)",
        "url": "/api/asyncapi.json",
    },
    # Served from the sidecar package's static files: no CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Bodies are JSON; the form parsers serve the browsable API's HTML forms and
    # stay out of the document (in a form every value is a string).
    "PARSER_WHITELIST": ["live.parsers.DepthLimitedJSONParser"],
    # Every error an operation can answer, not only its success.
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "live.schema.error_responses",
        "live.schema.unicode_patterns",
        "live.schema.input_rules",
    ],
}

# `/metrics` answers this bearer token; with none, only in local use (DEBUG).
LIVE_METRICS_TOKEN = os.environ.get("METRICS_TOKEN", "")
# "json": every log line a JSON object (a request's fields as keys); else text.
LOG_FORMAT = os.environ.get("LOG_FORMAT", "text")
if LOG_FORMAT not in ("text", "json"):
    raise ImproperlyConfigured("LOG_FORMAT must be text or json.")
LOG_LINE = "%(asctime)s %(levelname)s %(name)s %(message)s"
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "text": {"format": LOG_LINE},
        "json": {"()": "pythonjsonlogger.json.JsonFormatter", "format": LOG_LINE},
    },
    "filters": {"one_line_warning": {"()": "live.health.OneLineWarning"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT}
    },
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {
        # Django logs every 4xx as a warning; live.requests logs each request once.
        "django.request": {"level": "ERROR"},
        # A bad Host: one line, not a traceback at ERROR.
        "django.security.DisallowedHost": {"filters": ["one_line_warning"]},
    },
}

if MISSING and not BUILDING:
    LOCAL_USE = "For local use on this machine, set DEBUG=true instead."
    raise ImproperlyConfigured(" ".join([*MISSING, LOCAL_USE]))
