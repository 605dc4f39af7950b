"""Facefinder's settings, shared by the project's settings and the test suite's.

Everything that changes between machines comes from the process environment; nothing is read
or written at import (the entry points read a local ``.env``: see ``config/environment.py``).
With no variables set the app runs on SQLite in ``var/``, media under ``var/media`` and Redis
on localhost. ``.env.example`` lists every variable. The secret key is not here:
``config/settings.py`` requires one, ``config/settings_test.py`` has its own.
"""

from datetime import timedelta
from pathlib import Path

import environ

from config.database import database_config

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()

DEBUG = env.bool("DJANGO_DEBUG", default=False)

ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])
# A refused CSRF check under /api/ answers in the API's JSON shape; elsewhere Django's page.
CSRF_FAILURE_VIEW = "config.api.csrf_failure"

# HTTPS only, the production default (DEBUG off): behind a proxy that terminates TLS and sets
# X-Forwarded-Proto (README: "Production"). DJANGO_HTTPS=false turns these off for a test host
# served over plain HTTP; `manage.py check --deploy` then warns about each of them.
HTTPS = env.bool("DJANGO_HTTPS", default=not DEBUG)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if HTTPS else None
SECURE_SSL_REDIRECT = HTTPS
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=31_536_000) if HTTPS else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
# Preloading asks browser makers to hard-code HTTPS for the domain, hard to undo: an explicit
# choice (DJANGO_SECURE_HSTS_PRELOAD=true), so its deploy check (W021) is silenced until made.
SECURE_HSTS_PRELOAD = env.bool("DJANGO_SECURE_HSTS_PRELOAD", default=False)
SILENCED_SYSTEM_CHECKS = [] if SECURE_HSTS_PRELOAD else ["security.W021"]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "axes",
    "django_rq",
    "accounts",
    "movies",
    "faces",
    "search",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # Before any view or process_view hook reads the body (config/uploads.py).
    "config.uploads.RequestBodyLimitMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: turns a refused login into its page (accounts/lockout.py).
    "axes.middleware.AxesMiddleware",
]
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

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
                "accounts.context_processors.site_context",
            ],
        },
    },
]

DATABASES = {
    "default": database_config(
        env.str("DATABASE_URL", default="sqlite:///var/db.sqlite3"), BASE_DIR
    ),
}
# SingleStoreDB (the production database) needs both of these; keep them everywhere so that
# the schema and the code behave the same on every backend.
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USE_TZ = False
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
LANGUAGE_CODE = "en-us"
USE_I18N = True

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "movies:list"
LOGOUT_REDIRECT_URL = "login"

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = env.path("STATIC_ROOT", default=str(BASE_DIR / "staticfiles"))

# Media is private: every URL under MEDIA_URL goes through a login-required view.
MEDIA_URL = "/media/"
MEDIA_ROOT = env.path("MEDIA_ROOT", default=str(VAR_DIR / "media"))
STORAGES = {
    "default": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        # Frame images have deterministic names; a resumed ingest overwrites instead of
        # leaving orphaned copies with random suffixes.
        "OPTIONS": {"allow_overwrite": True},
    },
    # `manage.py collectstatic` writes STATIC_ROOT with hashed, compressed copies; WhiteNoise
    # serves them from the app with far-future caching (README: "Production").
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
# How protected media is handed to the client: "django" streams it from the app (development),
# "x-accel" answers with an X-Accel-Redirect header for nginx (production).
FACEFINDER_MEDIA_SERVING = env.str("FACEFINDER_MEDIA_SERVING", default="django")
FACEFINDER_MEDIA_INTERNAL_PREFIX = env.str(
    "FACEFINDER_MEDIA_INTERNAL_PREFIX", default="/protected-media/"
)
# x-accel mode: the nginx internal location of each import folder, as folder=prefix pairs
# ("/srv/films=/protected-import/films/"), for the videos of movies added by server path.
FACEFINDER_IMPORT_INTERNAL_PREFIXES = env.dict("FACEFINDER_IMPORT_INTERNAL_PREFIXES", default={})
# Seconds a browser may reuse a media file without asking again (privately: never shared caches).
FACEFINDER_MEDIA_MAX_AGE = env.int("FACEFINDER_MEDIA_MAX_AGE", default=3600)

# Request bodies keep Django's small limits (2.5 MB of form fields, and as much for a whole
# multipart body); the upload views get their own file limits below (config/uploads.py).
DATA_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
FILE_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024

REDIS_URL = env.str("REDIS_URL", default="redis://localhost:6379/0")
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    # Counters of failed logins and rate-limited actions (config/throttle.py), shared by every
    # web server. Throttled actions are refused while it is down (they fail closed).
    "throttle": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": env.str("FACEFINDER_THROTTLE_CACHE_URL", default="") or REDIS_URL,
        "KEY_PREFIX": "facefinder-throttle",
        "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 2},
    },
}
RQ_QUEUES = {
    "default": {"URL": REDIS_URL, "DEFAULT_TIMEOUT": 3600},
    "ingest": {"URL": REDIS_URL, "DEFAULT_TIMEOUT": env.int("INGEST_JOB_TIMEOUT", default=86400)},
}
# Enqueue at once, not at the end of the surrounding transaction: an admin action must know
# whether Redis took the job before it tells the user so.
RQ = {"COMMIT_MODE": "auto"}

EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="facefinder@localhost")

# --- Facefinder ------------------------------------------------------------------------------
# Embedder used for new ingests and photo queries: "facenet-vggface2", "dlib-resnet" or
# "dlib-resnet-mtcnn" (faces/embedders.py).
FACEFINDER_EMBEDDER = env.str("FACEFINDER_EMBEDDER", default="facenet-vggface2")
# A state-dict file of InceptionResnetV1 trained on VGGFace2. Empty: facenet-pytorch's own
# download/cache under $TORCH_HOME/checkpoints/.
FACENET_WEIGHTS = env.str("FACENET_WEIGHTS", default="")
# "cuda" when present, else "cpu"; set to force one.
FACEFINDER_DEVICE = env.str("FACEFINDER_DEVICE", default="auto")
FACEFINDER_SAMPLE_EVERY = env.int("FACEFINDER_SAMPLE_EVERY", default=25)
# Smallest face kept: a fraction of the frame height (< 1) or pixels (>= 1).
FACEFINDER_MIN_FACE = env.float("FACEFINDER_MIN_FACE", default=0.06)
FACEFINDER_MIN_PROBABILITY = env.float("FACEFINDER_MIN_PROBABILITY", default=0.99)
FACEFINDER_EMBED_BATCH = env.int("FACEFINDER_EMBED_BATCH", default=32)
# CPU threads for the networks; 0: one per parallel image (below), or torch's default (one per
# core) when images go one at a time. Idle OpenMP threads spin and waste CPU under contention.
FACEFINDER_TORCH_THREADS = env.int("FACEFINDER_TORCH_THREADS", default=0)
# Images analysed side by side on the CPU, one torch thread each; 0 = one per core (1 on CUDA).
FACEFINDER_PARALLEL_IMAGES = env.int("FACEFINDER_PARALLEL_IMAGES", default=0)
# Sampled frames per ingest batch: one pass through the networks, one bulk write and one
# checkpoint (a killed ingest redoes at most one batch).
FACEFINDER_FRAME_BATCH = env.int("FACEFINDER_FRAME_BATCH", default=16)
# One ingest run per movie (movies/runs.py): a live run refreshes its heartbeat this often (also
# while it loads the networks or seeks); a run silent for the stale limit counts as dead (a
# killed worker) and a new run may take its movie over; a queued job waits this long for a live
# run of its movie to end (a Cancel and Ingest while a batch was in flight) before giving up.
FACEFINDER_INGEST_HEARTBEAT_SECONDS = env.float("FACEFINDER_INGEST_HEARTBEAT_SECONDS", default=10)
FACEFINDER_INGEST_STALE_SECONDS = env.float("FACEFINDER_INGEST_STALE_SECONDS", default=90)
FACEFINDER_INGEST_CLAIM_WAIT_SECONDS = env.float(
    "FACEFINDER_INGEST_CLAIM_WAIT_SECONDS", default=900
)
if not 0 < FACEFINDER_INGEST_HEARTBEAT_SECONDS < FACEFINDER_INGEST_STALE_SECONDS:
    raise environ.ImproperlyConfigured(
        "FACEFINDER_INGEST_HEARTBEAT_SECONDS must be above 0 and below "
        "FACEFINDER_INGEST_STALE_SECONDS (a live run must beat well within the stale limit)."
    )

# Seconds between progress lines of an ingest without a terminal (``manage.py ingest`` under
# cron or a service, the rq worker's log); lines come after batches, at most one per interval.
FACEFINDER_PROGRESS_SECONDS = env.float("FACEFINDER_PROGRESS_SECONDS", default=30.0)
if not FACEFINDER_PROGRESS_SECONDS >= 0:  # also refuses nan
    raise environ.ImproperlyConfigured("FACEFINDER_PROGRESS_SECONDS must be 0 or more seconds.")

# People of one embedder are assigned or re-clustered by one process at a time (faces.locks):
# a holder that stops renewing loses the lock after this many seconds; a waiter gives up after
# FACEFINDER_PEOPLE_LOCK_WAIT seconds (its appearances wait for the next assignment).
FACEFINDER_PEOPLE_LOCK_TTL = env.int("FACEFINDER_PEOPLE_LOCK_TTL", default=600)
FACEFINDER_PEOPLE_LOCK_WAIT = env.int("FACEFINDER_PEOPLE_LOCK_WAIT", default=900)
# Movies may be added from a server path only below one of these folders.
FACEFINDER_IMPORT_DIRS = env.list("FACEFINDER_IMPORT_DIRS", default=[str(VAR_DIR / "import")])
FACEFINDER_MAX_UPLOAD_BYTES = env.int("FACEFINDER_MAX_UPLOAD_BYTES", default=4 * 1024**3)
FACEFINDER_MAX_PHOTO_BYTES = env.int("FACEFINDER_MAX_PHOTO_BYTES", default=15 * 1024**2)
# Photo searches: largest photo in pixels (width x height); unsaved photos are deleted after
# this many seconds; result groups per results page.
FACEFINDER_MAX_PHOTO_PIXELS = env.int("FACEFINDER_MAX_PHOTO_PIXELS", default=40_000_000)
FACEFINDER_PHOTO_TTL_SECONDS = env.int("FACEFINDER_PHOTO_TTL_SECONDS", default=3600)
FACEFINDER_GROUPS_PER_PAGE = env.int("FACEFINDER_GROUPS_PER_PAGE", default=10)
# Faces of one photo that are embedded and searchable: the largest ones.
FACEFINDER_MAX_PHOTO_FACES = env.int("FACEFINDER_MAX_PHOTO_FACES", default=20)
# Per user: photo searches per hour (each runs the face networks in the web process), saved
# searches, and photos kept (those of saved searches plus unsaved ones not yet expired).
FACEFINDER_PHOTO_SEARCHES_PER_HOUR = env.int("FACEFINDER_PHOTO_SEARCHES_PER_HOUR", default=30)
FACEFINDER_MAX_SAVED_SEARCHES = env.int("FACEFINDER_MAX_SAVED_SEARCHES", default=500)
FACEFINDER_MAX_KEPT_PHOTOS = env.int("FACEFINDER_MAX_KEPT_PHOTOS", default=100)

# --- Accounts (accounts/) ---
# Who may create an account: "approval" (new accounts wait until a staff member approves them),
# "open" (usable at once) or "closed". FACEFINDER_ALLOW_SIGNUP=false closes it whatever this says.
FACEFINDER_SIGNUP = env.str("FACEFINDER_SIGNUP", default="approval")
if FACEFINDER_SIGNUP not in ("approval", "open", "closed"):
    raise environ.ImproperlyConfigured("FACEFINDER_SIGNUP must be 'approval', 'open' or 'closed'.")
FACEFINDER_ALLOW_SIGNUP = env.bool("FACEFINDER_ALLOW_SIGNUP", default=True)
# Per client address and hour: sign-ups, and password-reset requests (also per e-mail address).
FACEFINDER_SIGNUPS_PER_HOUR = env.int("FACEFINDER_SIGNUPS_PER_HOUR", default=10)
FACEFINDER_PASSWORD_RESETS_PER_HOUR = env.int("FACEFINDER_PASSWORD_RESETS_PER_HOUR", default=5)
# Proxies in front of the app that append to X-Forwarded-For (1 behind the README's nginx); 0
# takes the client address from the connection.
FACEFINDER_PROXY_COUNT = env.int("FACEFINDER_PROXY_COUNT", default=0)

# Failed logins (django-axes, accounts/lockout.py): this many wrong passwords for one account
# from one address lock that pair out for the cool-off; each attempt during it restarts it.
AXES_HANDLER = "accounts.lockout.FailClosedCacheHandler"
AXES_CACHE = "throttle"
AXES_FAILURE_LIMIT = env.int("FACEFINDER_LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("FACEFINDER_LOGIN_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "accounts.lockout.lockout_response"
AXES_CLIENT_IP_CALLABLE = "config.throttle.client_ip"
# The cache handler keeps no rows: axes' admin pages would stay empty.
AXES_ENABLE_ADMIN = False
AXES_VERBOSE = False

# --- Search engine (search/services.py, search/backends/) ---
# Two results closer than this Euclidean distance are near-duplicates (grouped on the results
# page). Per embedder, because their vectors spread differently: docs/duplicate-distance.md.
FACEFINDER_DUPLICATE_DISTANCE = {
    "facenet-vggface2": env.float("FACEFINDER_DUPLICATE_DISTANCE_FACENET", default=0.3),
    "dlib-resnet": env.float("FACEFINDER_DUPLICATE_DISTANCE_DLIB", default=0.25),
    "dlib-resnet-mtcnn": env.float("FACEFINDER_DUPLICATE_DISTANCE_DLIB_MTCNN", default=0.25),
}
# Largest number of results one search may ask for (the default is 20).
FACEFINDER_SEARCH_MAX_K = env.int("FACEFINDER_SEARCH_MAX_K", default=300)
# Embedded backend: collections up to this many faces are scanned exactly; larger ones use an
# in-process IVF index (quantised candidates, exact re-scoring).
FACEFINDER_SEARCH_EXACT_MAX_FACES = env.int("FACEFINDER_SEARCH_EXACT_MAX_FACES", default=50_000)
# Embedded backend: folder of the persisted index (vectors and IVF codes that every process
# memory-maps, so a restart searches at once and processes share one copy). Empty: keep the
# vectors in each process's memory only, loaded from the database on its first search.
FACEFINDER_SEARCH_INDEX_DIR = env.str(
    "FACEFINDER_SEARCH_INDEX_DIR", default=str(VAR_DIR / "search-index")
)

# --- SingleStoreDB and scale-out (docs/singlestore.md) ---------------------------------------
# DATABASE_URL=singlestoredb://user:password@host:3306/database selects the SingleStoreDB engine
# (config/singlestore; its schema editor makes Django's apps and search reference tables).
# Several web servers and rq workers on different hosts share that database, Redis (REDIS_URL)
# and, with FACEFINDER_STORAGE=s3, frame images in an S3-compatible bucket.
# "s3" needs the optional extra: pip install "django-storages[s3]" (requirements-s3.txt).
FACEFINDER_STORAGE = env.str("FACEFINDER_STORAGE", default="filesystem")
if FACEFINDER_STORAGE == "s3":
    STORAGES["default"] = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": env.str("AWS_STORAGE_BUCKET_NAME"),
            "endpoint_url": env.str("AWS_S3_ENDPOINT_URL", default="") or None,
            "region_name": env.str("AWS_S3_REGION_NAME", default="") or None,
            "access_key": env.str("AWS_ACCESS_KEY_ID", default="") or None,
            "secret_key": env.str("AWS_SECRET_ACCESS_KEY", default="") or None,
            "location": env.str("AWS_LOCATION", default=""),
            # Deterministic frame names: a resumed ingest overwrites (as on the file system).
            "file_overwrite": True,
            # Private objects; URLs are short-lived signatures handed out after the login check.
            "default_acl": "private",
            "querystring_auth": True,
            "querystring_expire": env.int("AWS_QUERYSTRING_EXPIRE", default=300),
        },
    }
elif FACEFINDER_STORAGE != "filesystem":
    raise environ.ImproperlyConfigured("FACEFINDER_STORAGE must be 'filesystem' or 's3'.")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    # faiss announces at INFO which CPU build it loaded (and that the AVX2 one is absent);
    # django-axes every successful login (failed ones are WARNINGs).
    "loggers": {"faiss.loader": {"level": "WARNING"}, "axes": {"level": "WARNING"}},
}
