"""Typed keys of the application's and the requests' state: all of them, in one place."""

from aiohttp import web

from .db import Database
from .metrics import FileMetrics, MetaMetrics
from .outbound.policy import SourcePolicy
from .outbound.sourcecheck import CheckSlots
from .services.auth import Auth
from .services.health import Health
from .services.hotpath import HotPath
from .services.operators import SignInLimiter
from .services.signing import UrlSigner
from .settings import Settings

# the application's
SETTINGS = web.AppKey("settings", Settings)
DB = web.AppKey("db", Database)
AUTH = web.AppKey("auth", Auth)
HEALTH = web.AppKey("health", Health)
HOT = web.AppKey("hot", HotPath)   # tokens, positions and programs held in memory
SIGNER = web.AppKey("signer", UrlSigner)   # signs the sources of signed file servers
SOURCE_POLICY = web.AppKey("source_policy", SourcePolicy)   # where owners' URLs may lead
SOURCE_CHECKS = web.AppKey("source_checks", CheckSlots)     # owners' checks in flight
SIGN_IN_LIMITER = web.AppKey("sign_in_limiter", SignInLimiter)   # the dashboard's
FILE_ROOT = web.AppKey("file_root", str)                  # fileserver: the folder it serves
METRICS = web.AppKey("metrics", MetaMetrics)              # Prometheus figures (metrics.py)
FILE_METRICS = web.AppKey("file_metrics", FileMetrics)    # fileserver: its figures
FILE_SIGNING = web.AppKey("file_signing", object)   # fileserver: (secret, clock) or None

# a request's
DEVICE = web.RequestKey("device", str)         # the device a bearer token belongs to
OWNER = web.RequestKey("owner", tuple)         # (owner id, name) of an owner token
OPERATOR = web.RequestKey("operator", str)     # the dashboard operator signed in
CSRF = web.RequestKey("csrf", str)             # that session's CSRF token
FORM = web.RequestKey("form", object)          # a dashboard form, its CSRF token checked
