"""Settings for livecommerce: everything comes from the environment (12-factor).

Local defaults are safe for development (`DEBUG` on only when asked). With `DEBUG` off
there is no default `SECRET_KEY`: the process refuses to start without one, and
`manage.py check --deploy` is clean.
"""

from __future__ import annotations

import os
from pathlib import Path

import environ
from celery.schedules import crontab

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG: bool = env.bool("DEBUG", default=False)
# pytest sets PYTEST_VERSION: tests get fast hashing and no HTTPS redirects by default.
TESTING: bool = env.bool("TESTING", default="PYTEST_VERSION" in os.environ)

_DEV_SECRET = "dev-only-insecure-secret-key-not-for-production-0123456789abcdef"  # noqa: S105
SECRET_KEY: str = env.str("SECRET_KEY", default=_DEV_SECRET if (DEBUG or TESTING) else None)
if not SECRET_KEY:
    raise environ.ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off")

ALLOWED_HOSTS: list[str] = env.list(
    "ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]", "testserver"]
)
CSRF_TRUSTED_ORIGINS: list[str] = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "channels",
    "core",
    "accounts",
    "catalog",
    "streams",
    "orders",
    "trust",
    "disputes",
    "support",
    "auctions",
    "pages",
    "webhooks",
]

MIDDLEWARE = [
    "core.middleware.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Django's, skipped for token-authenticated /api/ calls (core/middleware.py).
    "core.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    # Django's own, by name (check --deploy looks for it); DRF views are csrf_exempt, so
    # it costs an API call little, and DRF checks CSRF for session-authenticated calls.
    "django.middleware.csrf.CsrfViewMiddleware",
    "core.middleware.AuthenticationMiddleware",
    "accounts.signin.SignInDeviceCookieMiddleware",
    "core.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "livecommerce.urls"
ASGI_APPLICATION = "livecommerce.asgi.application"
WSGI_APPLICATION = None

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
            ],
        },
    },
]

DATABASES = {
    "default": env.db_url(
        "DATABASE_URL", default="postgres://postgres@127.0.0.1:5432/livecommerce"
    ),
}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
# Connection reuse (docs/operations.md, "Serving HTTP"). By default each process keeps a
# pool of PostgreSQL connections (Django's native psycopg pool): a request borrows one and
# gives it back when it ends, so nothing (transaction, SET LOCAL, session state) leaks to the
# next request — psycopg resets a returned connection and drops a broken one. Size it to the
# threads that can hold one at once (gunicorn: WEB_THREADS, plus one for the live-event
# relay thread, streams/relay.py); when all are taken a request
# waits DB_POOL_TIMEOUT_SECONDS, then answers 503 `service_unavailable` instead of hanging.
# DB_POOL_MAX_SIZE=0 turns the pool off: a connection per thread, kept CONN_MAX_AGE seconds
# with CONN_HEALTH_CHECKS. The test suite runs in-process without the pool (its own
# threads each open a connection); the servers the tests start set it explicitly.
DB_POOL_MAX_SIZE: int = env.int("DB_POOL_MAX_SIZE", default=0 if TESTING else 5)
DB_POOL_MIN_SIZE: int = env.int("DB_POOL_MIN_SIZE", default=min(2, DB_POOL_MAX_SIZE))
DB_POOL_TIMEOUT_SECONDS: float = env.float("DB_POOL_TIMEOUT_SECONDS", default=3.0)
# Health checks either way: with the pool, one empty round trip on every checkout (a
# connection PostgreSQL closed while idle is replaced, never handed to a request); without
# it, Django's check before reusing a persistent connection.
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DB_POOL_MAX_SIZE:
    DATABASES["default"]["CONN_MAX_AGE"] = 0  # the pool keeps connections, not Django
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": DB_POOL_MIN_SIZE,
        "max_size": DB_POOL_MAX_SIZE,
        "timeout": DB_POOL_TIMEOUT_SECONDS,
        "max_lifetime": 30 * 60,
        "max_idle": 5 * 60,
    }
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=0)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL: str = env.str("REDIS_URL", default="redis://127.0.0.1:6379/0")
# Every Redis key and channel the product writes starts with this (core.redis.redis_key):
# deployments (or a test and a dev run) sharing one Redis database never collide.
REDIS_KEY_PREFIX: str = env.str("REDIS_KEY_PREFIX", default="lc")

CACHES = {
    "default": {
        "BACKEND": "core.cache.PooledRedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": REDIS_KEY_PREFIX,
    }
}

CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {"hosts": [REDIS_URL], "prefix": f"{REDIS_KEY_PREFIX}:asgi"},
    }
}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
if TESTING:
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# Every password check counts against the sign-in limits (accounts/signin.py).
AUTHENTICATION_BACKENDS = ["accounts.backends.ThrottledModelBackend"]

LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / ".devdata" / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"] if (BASE_DIR / "static").is_dir() else []
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG or TESTING
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}
WHITENOISE_USE_FINDERS = DEBUG or TESTING

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.CachedTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticatedOrReadOnly"],
    "DEFAULT_PARSER_CLASSES": [
        "core.parsers.JSONParser",
        "rest_framework.parsers.MultiPartParser",
        "rest_framework.parsers.FormParser",
    ],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PAGINATION_CLASS": "core.pagination.CursorPagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "core.errors.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "core.schema.AutoSchema",
    "DEFAULT_THROTTLE_RATES": {
        "auth_ip": env.str("THROTTLE_AUTH_IP", default="30/min"),
        "auth_username": env.str("THROTTLE_AUTH_USERNAME", default="10/min"),
        "buy_user": env.str("THROTTLE_BUY_USER", default="60/min"),
        "buy_ip": env.str("THROTTLE_BUY_IP", default="600/min"),
    },
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
    # Throttles key on REMOTE_ADDR only. uvicorn already takes the client address from
    # X-Forwarded-For when the peer is a trusted proxy (FORWARDED_ALLOW_IPS); DRF's default
    # (None) would trust the header from anyone and let a client escape per-IP limits.
    # Behind the compose stack's nginx, gunicorn sees nginx as the peer: NUM_PROXIES=1 takes
    # the client from the last X-Forwarded-For hop nginx appended (docs/operations.md).
    "NUM_PROXIES": env.int("NUM_PROXIES", default=0),
}

SPECTACULAR_SETTINGS = {
    "TITLE": "livecommerce API",
    "DESCRIPTION": "Live-shopping backend: catalog, shows, live room, instant checkout.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # Swagger UI's assets are served by us (drf-spectacular-sidecar), never from a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Several models have a `status` with its own choices: name each enum after its model
    # (otherwise spectacular invents hashed names and `check --deploy` warns).
    "ENUM_NAME_OVERRIDES": {
        "ShowStatusEnum": "streams.models.Show.Status",
        "HoldStatusEnum": "orders.models.Hold.Status",
        "OrderStatusEnum": "orders.models.Order.Status",
        "PaymentAttemptStatusEnum": "orders.models.PaymentAttempt.Status",
        "ShipmentStatusEnum": "orders.models.Shipment.Status",
        "WaitlistEntryStatusEnum": "orders.models.WaitlistEntry.Status",
        "DisputeStatusEnum": "disputes.models.Dispute.Status",
        "DisputeReasonEnum": "disputes.models.Dispute.Reason",
        "DisputeResolutionEnum": "disputes.models.Dispute.Resolution",
        "TicketStatusEnum": "support.models.Ticket.Status",
        "TicketPriorityEnum": "support.models.Ticket.Priority",
        "TicketCategoryEnum": "support.models.Ticket.Category",
        "DisputeDecisionEnum": ["refund", "reject"],
        # Keeps the name it had before the dispute `action` field arrived.
        "ActionEnum": "streams.models.ModerationAction.Action",
        "WebhookDeliveryStatusEnum": "webhooks.models.Delivery.Status",
    },
}

# Product settings (SPEC "Processes and configuration").
HOLD_TTL_SECONDS: int = env.int("HOLD_TTL_SECONDS", default=300)
WAITLIST_OFFER_SECONDS: int = env.int("WAITLIST_OFFER_SECONDS", default=60)
# The sold-out gate (orders/soldout.py; docs/operations.md "Sold-out gate"): a variant found
# sold out is answered from Redis for at most this long after a lost invalidation.
SOLDOUT_GATE_ENABLED: bool = env.bool("SOLDOUT_GATE_ENABLED", default=True)
SOLDOUT_GATE_TTL_SECONDS: float = env.float("SOLDOUT_GATE_TTL_SECONDS", default=5.0)
# Auctions (auctions/; docs/auctions.md): unpaid wins within the window that block bidding.
AUCTION_STRIKES_TO_BLOCK: int = env.int("AUCTION_STRIKES_TO_BLOCK", default=3)
AUCTION_STRIKE_WINDOW_DAYS: int = env.int("AUCTION_STRIKE_WINDOW_DAYS", default=90)
SANDBOX_SLOW_SECONDS: float = env.float("SANDBOX_SLOW_SECONDS", default=3.0)
# Live room (streams/; docs/live-room.md "Settings"). Every knob of the room is here; the
# code reads `settings.X` and tests override them with pytest-django's `settings`.
# A WebSocket ticket's lifetime (single use).
WS_TICKET_TTL_SECONDS: int = env.int("WS_TICKET_TTL_SECONDS", default=60)
# Write ready-made frames straight to idle uvicorn sockets (a kill switch: streams/direct.py).
WS_DIRECT_WRITE: bool = env.bool("WS_DIRECT_WRITE", default=True)
# A socket's outgoing queue: events past this many unsent switch it to `resync`.
WS_SEND_QUEUE_MAX: int = env.int("WS_SEND_QUEUE_MAX", default=2048)
# A socket whose writer has waited this long on one send (its peer stopped reading) is
# dropped (docs/live-room.md "Slow and silent clients").
WS_SEND_STALL_SECONDS: float = env.float("WS_SEND_STALL_SECONDS", default=20.0)
# Anonymous sockets one client address may hold open in one web process (close 4429).
WS_ANON_PER_IP_MAX: int = env.int("WS_ANON_PER_IP_MAX", default=20)
# How long live events wait after the snapshot for the client's first frame (a `resume`).
WS_RESUME_GRACE_SECONDS: float = env.float("WS_RESUME_GRACE_SECONDS", default=0.5)
# Queued events that go out as one `batch` frame, and the most one batch carries.
WS_BATCH_MIN: int = env.int("WS_BATCH_MIN", default=3)
WS_BATCH_MAX: int = env.int("WS_BATCH_MAX", default=200)
# A client frame over the first is refused with an `error` frame; over the second the
# socket is closed with 1009 (keep it equal to uvicorn's --ws-max-size).
WS_FRAME_MAX_BYTES: int = env.int("WS_FRAME_MAX_BYTES", default=4096)
WS_FRAME_HARD_MAX_BYTES: int = env.int("WS_FRAME_HARD_MAX_BYTES", default=65536)
# Broadcast events kept per show for `resume` (at least this many).
FANOUT_RETAIN_EVENTS: int = env.int("FANOUT_RETAIN_EVENTS", default=1000)
# Presence: each process's heartbeat, the expiry of its counts, the `viewers.changed` period.
PRESENCE_HEARTBEAT_SECONDS: float = env.float("PRESENCE_HEARTBEAT_SECONDS", default=0.5)
PRESENCE_TTL_SECONDS: float = env.float("PRESENCE_TTL_SECONDS", default=3.0)
PRESENCE_BROADCAST_SECONDS: float = env.float("PRESENCE_BROADCAST_SECONDS", default=1.0)
# The `reaction.burst` period.
REACTION_TICK_SECONDS: float = env.float("REACTION_TICK_SECONDS", default=0.3)
# Per-user limits: chat messages and reactions per fixed window of so many seconds.
CHAT_RATE_MESSAGES: int = env.int("CHAT_RATE_MESSAGES", default=5)
CHAT_RATE_WINDOW_S: int = env.int("CHAT_RATE_WINDOW_S", default=10)
REACTION_RATE: int = env.int("REACTION_RATE", default=30)
REACTION_RATE_WINDOW_S: int = env.int("REACTION_RATE_WINDOW_S", default=10)
# Publish committed live-room events from a relay thread, not the request's (streams/relay.py).
# Off in the in-process test suite, whose tests read events right after a service returns.
LIVE_EVENTS_RELAY: bool = env.bool("LIVE_EVENTS_RELAY", default=not TESTING)
# With the relay on, a `stock.changed` waits up to this long and a newer count for the same
# variant replaces it: a burst of sales reaches viewers as a few counts a second (0: off).
LIVE_EVENTS_COALESCE_MS: int = env.int("LIVE_EVENTS_COALESCE_MS", default=100)
IDEMPOTENCY_TTL_SECONDS: int = 24 * 3600
# API tokens are checked in Redis first (accounts/authentication.py); logout revokes at once,
# other changes to a user reach cached tokens within this many seconds.
TOKEN_CACHE_SECONDS: int = env.int("TOKEN_CACHE_SECONDS", default=60)

# Checkout and payments (orders app; docs/checkout.md, docs/celery.md).
SANDBOX_PAYMENT_PROVIDER = "orders.payments.sandbox.SandboxProvider"
PAYMENT_PROVIDER: str = env.str("PAYMENT_PROVIDER", default=SANDBOX_PAYMENT_PROVIDER)
# The sandbox takes no money: with DEBUG off, every process refuses to start with it
# unless a deployment says so explicitly (a demo or a staging stack).
PAYMENT_SANDBOX_ALLOWED: bool = env.bool("PAYMENT_SANDBOX_ALLOWED", default=DEBUG or TESTING)
if PAYMENT_PROVIDER == SANDBOX_PAYMENT_PROVIDER and not PAYMENT_SANDBOX_ALLOWED:
    raise environ.ImproperlyConfigured(
        "PAYMENT_PROVIDER is the sandbox, which takes no money, and DEBUG is off: configure "
        "a real provider, or set PAYMENT_SANDBOX_ALLOWED=true for a demo or test deployment"
    )
PAYMENT_MAX_ATTEMPTS: int = env.int("PAYMENT_MAX_ATTEMPTS", default=4)
PAYMENT_RETRY_BACKOFF_SECONDS: float = env.float("PAYMENT_RETRY_BACKOFF_SECONDS", default=1.0)
PAYMENT_RETRY_BACKOFF_MAX_SECONDS: float = env.float(
    "PAYMENT_RETRY_BACKOFF_MAX_SECONDS", default=8.0
)
# A running capture holds its order's advisory lock (orders/payment_lock.py), which is how a
# dead attempt is recognised at once. Last resort only: a `started` attempt older than this
# is superseded even if its lock is still held (a wedged session); keep it above
# CELERY_TASK_TIME_LIMIT, which kills a task sooner.
PAYMENT_ATTEMPT_STALE_SECONDS: int = env.int("PAYMENT_ATTEMPT_STALE_SECONDS", default=90)
# An order quiet in pending_payment this long has lost its task; the sweep re-queues it.
PAYMENT_STUCK_SECONDS: int = env.int("PAYMENT_STUCK_SECONDS", default=15)

# Trust (trust app; docs/trust.md): appeals and listing quality.
APPEAL_WINDOW_DAYS: int = env.int("APPEAL_WINDOW_DAYS", default=14)
APPEAL_DECISION_HOURS: int = env.int("APPEAL_DECISION_HOURS", default=72)
LISTING_PROHIBITED_TERMS: list[str] = env.list(
    "LISTING_PROHIBITED_TERMS",
    default=[
        "counterfeit",
        "replica",
        "knockoff",
        "fake designer",
        "ivory",
        "tortoiseshell",
        "prescription drug",
        "firearm",
        "ammunition",
        "switchblade",
    ],
)
# Seller webhooks (webhooks app; docs/webhooks.md).
# Allow endpoint URLs that resolve to loopback, private or link-local addresses (tests and
# local development only: otherwise a seller could make the platform call its own network).
WEBHOOK_ALLOW_PRIVATE: bool = env.bool("WEBHOOK_ALLOW_PRIVATE", default=False)
# Seconds between attempts (comma-separated); each waits that long ±20 % jitter. The
# default is 8 attempts over about 27 hours (Standard Webhooks' schedule).
WEBHOOK_RETRY_SCHEDULE: list[float] = [
    float(s)
    for s in env.list(
        "WEBHOOK_RETRY_SCHEDULE", default=["5", "300", "1800", "7200", "18000", "36000", "36000"]
    )
]
# One attempt: connect, send and each read; 2xx within it is delivered.
WEBHOOK_TIMEOUT_SECONDS: float = env.float("WEBHOOK_TIMEOUT_SECONDS", default=5.0)
# An endpoint whose every delivery failed for this long is disabled (with a reason).
WEBHOOK_DISABLE_AFTER_SECONDS: int = env.int("WEBHOOK_DISABLE_AFTER_SECONDS", default=5 * 86400)
# Parallel HTTP requests of one relay task, and how many of them one endpoint may hold
# (a failing endpoint holds one).
WEBHOOK_RELAY_THREADS: int = env.int("WEBHOOK_RELAY_THREADS", default=16)
WEBHOOK_ENDPOINT_CONCURRENCY: int = env.int("WEBHOOK_ENDPOINT_CONCURRENCY", default=8)

# Disputes and returns (disputes app; docs/disputes.md).
DISPUTE_SELLER_RESPONSE_HOURS: int = env.int("DISPUTE_SELLER_RESPONSE_HOURS", default=48)
DISPUTE_WINDOW_DAYS: int = env.int("DISPUTE_WINDOW_DAYS", default=30)
DISPUTE_SWEEP_SECONDS: float = env.float("DISPUTE_SWEEP_SECONDS", default=60.0)

# Seller support (support app; docs/support.md): a ticket's due time by priority.
SUPPORT_DUE_HOURS: dict[str, int] = {
    "urgent": env.int("SUPPORT_DUE_HOURS_URGENT", default=2),
    "high": env.int("SUPPORT_DUE_HOURS_HIGH", default=8),
    "normal": env.int("SUPPORT_DUE_HOURS_NORMAL", default=24),
    "low": env.int("SUPPORT_DUE_HOURS_LOW", default=72),
}
# An order at or above this total raises an order ticket's priority by one step.
SUPPORT_HIGH_VALUE_ORDER: str = env.str("SUPPORT_HIGH_VALUE_ORDER", default="200.00")
SUPPORT_ESCALATION_SWEEP_SECONDS: float = env.float(
    "SUPPORT_ESCALATION_SWEEP_SECONDS", default=60.0
)

# Celery: Redis is the broker (SPEC); safety settings are explained in docs/celery.md.
CELERY_BROKER_URL: str = env.str("CELERY_BROKER_URL", default=REDIS_URL)
CELERY_RESULT_BACKEND: str | None = None
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT: int = env.int("CELERY_TASK_TIME_LIMIT", default=60)
CELERY_TASK_SOFT_TIME_LIMIT: int = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=45)
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULE: dict[str, dict] = {
    # Checkout sweeps (orders/tasks.py; docs/celery.md). Both are idempotent.
    "orders-holds-expire-due": {
        "task": "orders.holds_expire_due",
        "schedule": env.float("HOLD_SWEEP_SECONDS", default=2.0),
        "options": {"expires": 10},
    },
    "orders-recover-stuck": {
        "task": "orders.recover_stuck",
        "schedule": env.float("PAYMENT_RECOVER_SWEEP_SECONDS", default=5.0),
        "options": {"expires": 30},
    },
    "orders-refunds-settle-due": {
        "task": "orders.refunds_settle_due",
        "schedule": env.float("PAYMENT_RECOVER_SWEEP_SECONDS", default=5.0),
        "options": {"expires": 30},
    },
    # Trust deadlines (trust/tasks.py; docs/trust.md): expired cases, overdue appeals.
    "trust-deadlines": {
        "task": "trust.deadlines",
        "schedule": env.float("TRUST_SWEEP_SECONDS", default=60.0),
        "options": {"expires": 120},
    },
    "disputes-refund-overdue": {
        "task": "disputes.refund_overdue",
        "schedule": DISPUTE_SWEEP_SECONDS,
        "options": {"expires": 300},
    },
    "support-escalate-overdue": {
        "task": "support.escalate_overdue",
        "schedule": SUPPORT_ESCALATION_SWEEP_SECONDS,
        "options": {"expires": 300},
    },
    # Auctions: close what is due (exactly once; the per-auction eta task may beat it)
    # and handle unpaid winners. Every second: an auction closes within 1 s of ends_at.
    "auctions-close-due": {
        "task": "auctions.close_due",
        "schedule": env.float("AUCTION_CLOSE_SWEEP_SECONDS", default=1.0),
        "options": {"expires": 5},
    },
    # Webhooks (webhooks/tasks.py): start a relay when deliveries are due (retries, and
    # anything a lost task or a killed worker left behind).
    "webhooks-sweep": {
        "task": "webhooks.sweep",
        "schedule": env.float("WEBHOOK_SWEEP_SECONDS", default=5.0),
        "options": {"expires": 30},
    },
    "core-idempotency-purge": {
        "task": "core.idempotency_purge_expired",
        "schedule": crontab(hour=3, minute=17),
    },
}
CELERY_BEAT_SCHEDULE_FILENAME: str = env.str(
    "CELERY_BEAT_SCHEDULE_FILENAME", default=str(BASE_DIR / ".devdata" / "celerybeat-schedule")
)

# Security: strict when DEBUG is off (manage.py check --deploy is clean).
SESSION_COOKIE_SECURE = not DEBUG and not TESTING
CSRF_COOKIE_SECURE = not DEBUG and not TESTING
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG and not TESTING)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG or TESTING else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG and not TESTING
SECURE_HSTS_PRELOAD = not DEBUG and not TESTING
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
X_FRAME_OPTIONS = "DENY"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "core.logging.RequestIdFilter"}},
    "formatters": {"json": {"()": "core.logging.JsonFormatter"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "json",
            "filters": ["request_id"],
        }
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "uvicorn.access": {"level": "WARNING"},
        # One line per webhook attempt otherwise; the delivery log has each attempt.
        "httpx": {"level": "WARNING"},
    },
}
