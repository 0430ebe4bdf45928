"""Settings for the whitelabel reseller portal.

One file, every value from the environment with a safe default (read strictly by core.env:
a value it does not understand stops the process): DEBUG is off and
HTTPS hardening is on unless asked otherwise. README.md lists every variable.
"""

from decimal import Decimal
from pathlib import Path

import dj_database_url

from core.env import env, env_bool, env_int, env_list, env_rates

BASE_DIR = Path(__file__).resolve().parent.parent

DEBUG = env_bool("DEBUG", False)
PLATFORM_NAME = env("PLATFORM_NAME", "Reseller Console")
# The fallback key is only good for a development machine; `check --deploy` flags it.
SECRET_KEY = env("SECRET_KEY") or "django-insecure-development-only-key-do-not-deploy"

# --- Tenancy -----------------------------------------------------------------
# The console lives on the bare base domain; portals on <slug>.<base domain> or
# a verified custom domain. Hosts are checked by agencies.middleware, which
# answers 404 for any host it cannot resolve, so Django's own check is open.
PORTAL_BASE_DOMAIN = env("PORTAL_BASE_DOMAIN", "localhost").lower().rstrip(".")
PORTAL_CNAME_TARGET = env("PORTAL_CNAME_TARGET", f"cname.{PORTAL_BASE_DOMAIN}").lower()
# Scheme and port used when the portal writes its own absolute URLs (emails, Stripe).
PORTAL_HTTPS = env_bool("PORTAL_HTTPS", True)
PORTAL_SCHEME = "https" if PORTAL_HTTPS else "http"
PORTAL_PUBLIC_PORT = env("PORTAL_PUBLIC_PORT", "")
ALLOWED_HOSTS = ["*"]
# Seconds a host -> agency lookup is cached. Saves invalidate the shared cache
# at once; this bounds how stale a per-process cache can be.
TENANT_CACHE_SECONDS = env_int("TENANT_CACHE_SECONDS", 5)
# Nameservers for custom-domain checks ("ip" or "ip:port", comma separated);
# empty means the system resolver.
DNS_NAMESERVERS = env_list("DNS_NAMESERVERS")
DNS_TIMEOUT_SECONDS = env_int("DNS_TIMEOUT_SECONDS", 3)

# --- Money -------------------------------------------------------------------
PLATFORM_MINUTE_PRICE_CENTS = env_int("PLATFORM_MINUTE_PRICE_CENTS", 7)
PLATFORM_CURRENCY = env("PLATFORM_CURRENCY", "EUR").upper()
# Value of one unit of a package currency in the platform currency, e.g.
# "USD=0.92,GBP=1.17". Used by the margin calculator only.
EXCHANGE_RATES = env_rates("EXCHANGE_RATES", "USD=0.92,GBP=1.17")
EXCHANGE_RATES[PLATFORM_CURRENCY] = Decimal(1)

# --- Secrets at rest ---------------------------------------------------------
# Comma-separated Fernet keys, newest first. Separate from SECRET_KEY so either
# can be rotated alone (`manage.py rotate_secrets` re-encrypts with the first).
DEV_FIELD_ENCRYPTION_KEY = "ZGV2ZWxvcG1lbnQtb25seS1rZXktbm90LXNlY3JldCE="
FIELD_ENCRYPTION_KEYS = env_list("FIELD_ENCRYPTION_KEYS") or [DEV_FIELD_ENCRYPTION_KEY]

# --- Stripe --------------------------------------------------------------------
# Empty means Stripe itself; `make run` points it at the bundled stand-in.
STRIPE_API_BASE = env("STRIPE_API_BASE", "")
STRIPE_TIMEOUT_SECONDS = env_int("STRIPE_TIMEOUT_SECONDS", 10)
# Check Stripe (billing.stripe_check): the worker looks every STRIPE_CHECK_SWEEP_SECONDS for live agencies
# whose last check is older than STRIPE_CHECK_EVERY_HOURS and checks them.
STRIPE_CHECK_SWEEP_SECONDS = env_int("STRIPE_CHECK_SWEEP_SECONDS", 3600)
STRIPE_CHECK_EVERY_HOURS = env_int("STRIPE_CHECK_EVERY_HOURS", 24)
# How often the worker compares each Stripe account's recent events with those the portal processed (billing.reconcile).
STRIPE_RECONCILE_MINUTES = env_int("STRIPE_RECONCILE_MINUTES", 15)
STRIPE_RECONCILE_SECONDS = STRIPE_RECONCILE_MINUTES * 60
# Auto-reload (billing.auto_reload): how often the worker looks for queued reloads it was not told about.
AUTO_RELOAD_SWEEP_SECONDS = env_int("AUTO_RELOAD_SWEEP_SECONDS", 300)

# The platform's own Stripe account, on which agencies buy call minutes (Checkout; webhook at
# /api/webhooks/stripe/platform). Empty: buying minutes is switched off. `make run` uses the stand-in.
PLATFORM_STRIPE_SECRET_KEY = env("PLATFORM_STRIPE_SECRET_KEY", "")
PLATFORM_STRIPE_PUBLISHABLE_KEY = env("PLATFORM_STRIPE_PUBLISHABLE_KEY", "")
PLATFORM_STRIPE_WEBHOOK_SECRET = env("PLATFORM_STRIPE_WEBHOOK_SECRET", "")
# Stripe Connect: agencies connect their Stripe account to the platform's (OAuth, or an account the
# portal creates); their clients then pay through direct charges on the platform's key with the
# Stripe-Account header. STRIPE_CONNECT_CLIENT_ID is the platform's ca_... id (empty: Connect off);
# STRIPE_CONNECT_WEBHOOK_SECRET signs the platform's one Connect endpoint /api/webhooks/stripe/connect.
STRIPE_CONNECT_CLIENT_ID = env("STRIPE_CONNECT_CLIENT_ID", "")
STRIPE_CONNECT_WEBHOOK_SECRET = env("STRIPE_CONNECT_WEBHOOK_SECRET", "")
# The platform's fee on each client purchase of a connected agency, in basis points (150 = 1.5 %),
# sent as application_fee_amount and recorded on the purchase. 0: no fee.
STRIPE_APPLICATION_FEE_BPS = env_int("STRIPE_APPLICATION_FEE_BPS", 0, minimum=0)
# Smallest and largest number of minutes one purchase may buy.
PLATFORM_MINUTES_MIN_PURCHASE = env_int("PLATFORM_MINUTES_MIN_PURCHASE", 1000)
PLATFORM_MINUTES_MAX_PURCHASE = env_int("PLATFORM_MINUTES_MAX_PURCHASE", 10_000_000)
# Whether PLATFORM_MINUTE_PRICE_CENTS includes VAT; by default VAT is added on top (a B2B price).
PLATFORM_PRICES_INCLUDE_VAT = env_bool("PLATFORM_PRICES_INCLUDE_VAT", False)
# Top-ups of a saved payment method (billing.topup): the smallest amount, in minor units.
TOPUP_MIN_CENTS = env_int("TOPUP_MIN_CENTS", 1000)

# --- Invoices ------------------------------------------------------------------
# The platform as a seller (call minutes bought by agencies): printed on its invoices.
PLATFORM_LEGAL_NAME = env("PLATFORM_LEGAL_NAME", PLATFORM_NAME)
PLATFORM_ADDRESS = env("PLATFORM_ADDRESS", "")
PLATFORM_COUNTRY = env("PLATFORM_COUNTRY", "").upper()
PLATFORM_VAT_ID = env("PLATFORM_VAT_ID", "")
PLATFORM_INVOICE_PREFIX = env("PLATFORM_INVOICE_PREFIX", "PLAT")
# The agency logo on invoice PDFs is fetched when a PDF is made; past this the PDF shows the name alone.
INVOICE_LOGO_TIMEOUT_SECONDS = env_int("INVOICE_LOGO_TIMEOUT_SECONDS", 3)
# A TrueType font for invoice PDFs; empty: DejaVu Sans when installed, else a built-in Latin-1 font.
INVOICE_PDF_FONT = env("INVOICE_PDF_FONT", "")

# --- Usage API and background work -------------------------------------------
# Requests per minute per API key (failed authentications: per client address).
# Counted in the default cache, so shared by all workers when REDIS_URL is set.
API_RATE_LIMIT_PER_MINUTE = env_int("API_RATE_LIMIT_PER_MINUTE", 600)
API_AUTH_FAILURES_PER_MINUTE = env_int("API_AUTH_FAILURES_PER_MINUTE", 30)
# A reservation lives for its minutes plus this much, then stops holding credits.
RESERVATION_GRACE_SECONDS = env_int("RESERVATION_GRACE_SECONDS", 120)
RESERVATION_MAX_MINUTES = env_int("RESERVATION_MAX_MINUTES", 240)
# How often the self-rescheduling task marks expired reservations.
RESERVATION_SWEEP_SECONDS = env_int("RESERVATION_SWEEP_SECONDS", 60)
# --- Pull sync, low-balance alerts (ops/) ----------------------------------------
# Outbound HTTP to addresses tenants type in (upstream usage APIs, alert webhooks) is refused to
# loopback and private networks unless this is on: on by default only with DEBUG.
OUTBOUND_ALLOW_PRIVATE_HOSTS = env_bool("OUTBOUND_ALLOW_PRIVATE_HOSTS", DEBUG)
# How often the self-rescheduling sweep looks for due pulls and deliveries.
OPS_SWEEP_SECONDS = env_int("OPS_SWEEP_SECONDS", 30)
# Retries back off from RETRY_BASE_SECONDS, doubling, up to RETRY_MAX_SECONDS.
RETRY_BASE_SECONDS = env_int("RETRY_BASE_SECONDS", 30)
RETRY_MAX_SECONDS = env_int("RETRY_MAX_SECONDS", 3600)
USAGE_PULL_INTERVAL_SECONDS = env_int("USAGE_PULL_INTERVAL_SECONDS", 300)
USAGE_PULL_TIMEOUT_SECONDS = env_int("USAGE_PULL_TIMEOUT_SECONDS", 10)
# Days before the high-water mark pulled again on every run, for calls reported late.
USAGE_PULL_LOOKBACK_DAYS = env_int("USAGE_PULL_LOOKBACK_DAYS", 1)
ALERT_WEBHOOK_TIMEOUT_SECONDS = env_int("ALERT_WEBHOOK_TIMEOUT_SECONDS", 5)
# Tries of one email or webhook delivery before it is marked failed.
ALERT_DELIVERY_ATTEMPTS = env_int("ALERT_DELIVERY_ATTEMPTS", 8)
# Dashboards: a client without its own threshold counts as running low below this many credits.
LOW_BALANCE_DEFAULT_CREDITS = env_int("LOW_BALANCE_DEFAULT_CREDITS", 10)

# Background tasks (django-tasks) are queued in the database; `manage.py
# db_worker` runs them, any number of workers on any number of hosts.
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
# A task still RUNNING this long after it started is presumed dead (its worker was killed) and
# marked failed, and its periodic chain is queued again (core/periodic.py). Well above the longest
# task: a sweep takes seconds, a pull holds its source at most 20 x USAGE_PULL_TIMEOUT_SECONDS + 300.
TASK_LEASE_SECONDS = env_int("TASK_LEASE_SECONDS", 900)

INSTALLED_APPS = [
    "agencies.admin_apps.AuditedAdminConfig",  # django.contrib.admin, every operator change audited
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "core",  # before django_tasks_db: its db_worker adds the periodic-task watchdog
    "django_tasks",
    "django_tasks_db",
    "agencies",
    "billing",
    "usage",
    "invoices",
    "ops",
]

MIDDLEWARE = [
    # First: nothing else may look at a host the portal does not serve.
    "agencies.middleware.TenantMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "agencies.middleware.PortalAccountMiddleware",
    "agencies.middleware.AuditContextMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # After the account and messages: a "view as client" session is read-only and ends after 30 minutes.
    "agencies.middleware.ViewAsMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    # After the login stages: a user whose agency requires two-factor sign-in sets it up before anything else.
    "agencies.middleware.MFARequiredMiddleware",
]

ROOT_URLCONF = "portal.urls_console"
PORTAL_URLCONF = "portal.urls_portal"
WSGI_APPLICATION = "portal.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "agencies.context_processors.branding",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        env("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # SQLite (development and the first test pass): the dev server, the worker and `load_demo` write at once.
    # IMMEDIATE transactions take the write lock when they begin and wait for it (up to `timeout` seconds),
    # instead of failing with "database is locked" when a read turns into a write; WAL lets reads go on
    # beside a write.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"timeout": 20, "transaction_mode": "IMMEDIATE", "init_command": "PRAGMA journal_mode=WAL;"}
    )
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Server-side prepared statements for the hot path's fixed-shape SQL (core.db decides statement by
    # statement; Django's own cursors bind client-side and never prepare). psycopg's default threshold
    # switches them on; None switches them off, for PgBouncer in transaction mode, where the next
    # transaction may run on a server that never saw the statement.
    DATABASES["default"].setdefault("OPTIONS", {})["prepare_threshold"] = (
        5 if env_bool("DATABASE_PREPARE", True) else None
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# A cache shared by every worker in production (Redis); per-process otherwise.
if env("REDIS_URL"):
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": env("REDIS_URL")}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

AUTH_USER_MODEL = "agencies.User"
AUTHENTICATION_BACKENDS = ["agencies.backends.PortalBackend"]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Email is unique per portal (agencies.User constraints), not globally, so the
# login field cannot carry a plain unique index; PortalBackend scopes lookups.
# models.W040: the usage rollups' covering index (INCLUDE) is a PostgreSQL feature; SQLite, for development
# and tests, builds it without the extra columns, which only costs speed there.
SILENCED_SYSTEM_CHECKS = ["auth.W004", "models.W040"]

# --- allauth -------------------------------------------------------------------
ACCOUNT_ADAPTER = "agencies.adapter.PortalAccountAdapter"
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_UNIQUE_EMAIL = False  # unique per portal, enforced by agencies.forms
ACCOUNT_EMAIL_VERIFICATION = env("ACCOUNT_EMAIL_VERIFICATION", "optional")
ACCOUNT_FORMS = {
    "signup": "agencies.forms.PortalSignupForm",
    "reset_password": "agencies.forms.PortalResetPasswordForm",
    "user_token": "agencies.forms.PortalUserTokenForm",
}
ACCOUNT_RATE_LIMITS_ENABLED = True
# allauth's defaults, written out because two-factor codes count against "login_failed" too (keyed by the
# account): 10 failures a minute from one address, 5 in 5 minutes for one account (password or code).
ACCOUNT_RATE_LIMITS = {"login_failed": "10/m/ip,5/300s/key"}
ACCOUNT_LOGOUT_ON_GET = False
ACCOUNT_DEFAULT_HTTP_PROTOCOL = PORTAL_SCHEME
LOGIN_REDIRECT_URL = "home"
# Two-factor sign-in (allauth.mfa): an authenticator app (TOTP) or security keys, with recovery codes. The TOTP
# secret and the recovery codes' seed are encrypted at rest with FIELD_ENCRYPTION_KEYS (agencies.mfa.PortalMFAAdapter).
# An agency can require it of its members and of its clients' users (agencies.middleware.MFARequiredMiddleware).
MFA_ADAPTER = "agencies.mfa.PortalMFAAdapter"
# Security keys and passkeys (WebAuthn) count as a second factor too. The relying party is the host the
# page is on (allauth: request.get_host() without the port), so a key added on one portal is bound to that
# portal's host and is never offered on another. fido2 accepts https origins and http://localhost and
# http://*.localhost (development, tests) on its own, so no insecure origin is ever allowed. Signing in with
# a passkey alone (MFA_PASSKEY_LOGIN_ENABLED) stays off: a key is a second factor after the password.
MFA_SUPPORTED_TYPES = ["totp", "webauthn", "recovery_codes"]
MFA_WEBAUTHN_ALLOW_INSECURE_ORIGIN = False
# One step either side of now: a phone whose clock is a few seconds off still signs in.
MFA_TOTP_TOLERANCE = 1
LOGIN_URL = "account_login"

EMAIL_BACKEND = env("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = env("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", f"no-reply@{PORTAL_BASE_DOMAIN}")

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

# How many proxies in front of the app append to X-Forwarded-For: the audit log takes the client's address
# from there (agencies.middleware.client_ip); 0 (default): REMOTE_ADDR, the header is ignored.
PORTAL_TRUSTED_PROXY_COUNT = env_int("PORTAL_TRUSTED_PROXY_COUNT", 0, minimum=0)

# --- HTTPS hardening (behind a TLS front end that sets X-Forwarded-Proto) ------
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if PORTAL_HTTPS else None
SECURE_SSL_REDIRECT = PORTAL_HTTPS
SESSION_COOKIE_SECURE = PORTAL_HTTPS
CSRF_COOKIE_SECURE = PORTAL_HTTPS
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000) if PORTAL_HTTPS else 0
# Custom domains belong to agencies: HSTS must not reach their other subdomains.
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", PORTAL_HTTPS)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", PORTAL_HTTPS)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Session cookies stay host-only (no SESSION_COOKIE_DOMAIN): a login never
# travels from one portal's host to another's.
SESSION_COOKIE_HTTPONLY = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", "INFO")},
    # The stripe package logs every request at INFO; billing.stripe_api logs what matters.
    # fontTools (invoice PDFs) logs every font subsetting step at INFO.
    "loggers": {"stripe": {"level": env("STRIPE_LOG_LEVEL", "WARNING")}, "fontTools": {"level": "WARNING"}},
}
