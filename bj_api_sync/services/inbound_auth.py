"""Authentication of inbound API calls.

Per config (``auth_type``), as CONTRACT section 2 says:

- ``bearer``: the config's ``bearer_token`` (runs as the config's user) or a
  user's Odoo API key (runs as that user);
- ``basic``: the config's login/password (config's user) or an Odoo login with
  that user's API key as password (that user);
- ``custom``: every header of the config's Headers tab, with its exact value
  (config's user);
- ``none``: the config's user.

Secrets are compared in constant time. A failed API-key check always pays one
pbkdf2 verification, so a caller cannot tell from the timing whether a key
prefix exists. Every failure is first counted through the caller's
``on_failure`` callable (the pipeline's per-address failure limit), *before*
that equalising hash: once an address is over its failure limit, a guessed
key costs no pbkdf2 computation, only its 429. (A key whose 8-character
index matches a stored key still pays Odoo's own check first: it may be a
legitimate client behind the same address.) Successful API-key checks are
remembered for :data:`APIKEY_CACHE_TTL` seconds in a per-process cache keyed
by a SHA-256 of the credentials (Odoo's pbkdf2 check costs milliseconds per
call). Whatever the path, the resulting user must be an active internal user
and never the superuser: the request then runs with that user's access
rights.
"""
import logging
from dataclasses import dataclass

from odoo import SUPERUSER_ID
from odoo.addons.base.models.res_users import KEY_CRYPT_CONTEXT

from ..engine import auth_headers, ratelimit
from ..engine.errors import ApiError
from ..engine.ttl_cache import TTLCache, secret_key

_logger = logging.getLogger(__name__)

APIKEY_CACHE_TTL = 60.0
_apikey_cache = TTLCache(ttl=APIKEY_CACHE_TTL, maxsize=4096)
# A hash of a random-looking key, verified when no stored key was: failures
# cost the same pbkdf2 work whether or not the key's index exists.
_DUMMY_HASH = KEY_CRYPT_CONTEXT.hash("bj_api_sync-timing-equaliser-0000000000")

REALM = 'realm="bj_api_sync"'
_CHALLENGES = {
    "bearer": f"Bearer {REALM}",
    "basic": f"Basic {REALM}",
    "custom": f"Headers {REALM}",
    "none": f"Bearer {REALM}",
}


@dataclass(frozen=True)
class Caller:
    """Who a request runs as: ``uid`` and the rate-limit bucket ``key``."""

    uid: int
    key: str
    method: str  # "config", "apikey" or "none"


def clear_cache():
    """Forget every remembered API-key check (tests, key revocation)."""
    _apikey_cache.clear()


def auth_error(auth_type, message="Invalid or missing credentials", details=None):
    """Return the 401 ``AUTHENTICATION_ERROR`` with the right ``WWW-Authenticate``."""
    return ApiError(
        "AUTHENTICATION_ERROR",
        message,
        details,
        headers={"WWW-Authenticate": _CHALLENGES.get(auth_type, _CHALLENGES["bearer"])},
    )


def _no_run_as_user(auth_type):
    """The 401 of a caller whose credentials matched the config's own, when the
    config has no usable Run As User: it names the setting (the caller already
    holds the secret, so this tells nothing about it)."""
    return auth_error(
        auth_type,
        "The credentials are right, but the configuration's Run As User is missing or "
        "is not an active internal user: an administrator must set it",
        {"missing": "user_id", "setting": "Run As User"},
    )


class _FailureCount:
    """Calls ``hook`` (which may raise the 429) once per request, on its first failure."""

    def __init__(self, hook):
        self._hook = hook
        self._counted = False

    def __call__(self):
        if self._hook is not None and not self._counted:
            self._counted = True
            self._hook()


def _equalise_timing(failed=None):
    """Count the failure (``failed``), then spend the work of one wrong key's pbkdf2 check."""
    if failed is not None:
        failed()
    KEY_CRYPT_CONTEXT.verify("bj_api_sync-wrong-key", _DUMMY_HASH)


def _verify_apikey(env, key, login=None, failed=None):
    """Return the uid owning API ``key`` (and ``login`` if given), or None.

    ``env`` is a superuser environment (infrastructure lookup only);
    ``failed`` a :class:`_FailureCount`, called on a failure before the
    equalising hash.
    """
    cache_key = secret_key(env.cr.dbname, login or "", key)
    uid = _apikey_cache.get(cache_key)
    if uid:
        return uid
    uid = None
    if key and len(key) <= 1024:
        uid = env["res.users.apikeys"]._check_credentials(scope="rpc", key=key)
    if uid and login is not None:
        env.cr.execute("SELECT login FROM res_users WHERE id = %s", (uid,))
        row = env.cr.fetchone()
        if not row or not auth_headers.secrets_equal(row[0], login):
            uid = None
    if not uid:
        _equalise_timing(failed)
        return None
    _apikey_cache.set(cache_key, uid)
    return uid


def check_user(env, uid):
    """Return ``uid`` if it is an active internal user other than the superuser, else None."""
    if not uid or uid == SUPERUSER_ID:
        return None
    return uid if env["bj.api.sync.config"]._bj_is_api_user(uid) else None


def authenticate(env, spec, headers, remote_addr, on_failure=None):
    """Authenticate a request for ``spec`` (a ResourceSpec); return a :class:`Caller`.

    ``env`` is a superuser environment used only to look credentials up;
    ``headers`` the request headers (case-insensitive mapping). Raises the
    401 :func:`auth_error` on any failure, after calling ``on_failure()``
    once (before any equalising hash; it may raise the 429 instead).
    """
    failed = _FailureCount(on_failure)
    kind = spec.auth_type
    uid = None
    caller_key = None
    method = "config"
    matched = False  # the config's own credentials (or none needed) were given
    if kind == "none":
        matched = True
        uid = spec.user_id
        caller_key = ratelimit.caller_key("ip", remote_addr or "0.0.0.0")  # noqa: S104
        method = "none"
    elif kind == "custom":
        required = spec.headers
        # Every comparison runs (no short-circuit): timing says nothing about
        # which header was wrong.
        results = [auth_headers.secrets_equal(headers.get(name), value)
                   for name, value in required]
        if required and all(results):
            matched = True
            uid = spec.user_id
            caller_key = ratelimit.caller_key("user", uid) if uid else None
    elif kind in ("bearer", "basic"):
        parsed = auth_headers.parse_authorization(headers.get("Authorization"))
        if parsed and parsed[0] == kind == "bearer":
            token = parsed[1]
            if spec.token and auth_headers.secrets_equal(token, spec.token):
                matched = True
                uid = spec.user_id
                caller_key = ratelimit.caller_key("user", uid) if uid else None
            else:
                uid = _verify_apikey(env, token, failed=failed)
                caller_key = ratelimit.caller_key("key", token)
                method = "apikey"
        elif parsed and parsed[0] == kind == "basic":
            _scheme, login, password = parsed
            login_ok = auth_headers.secrets_equal(login, spec.login)
            password_ok = auth_headers.secrets_equal(password, spec.password)
            if spec.login and login_ok and password_ok:
                matched = True
                uid = spec.user_id
                caller_key = ratelimit.caller_key("user", uid) if uid else None
            else:
                uid = _verify_apikey(env, password, login=login, failed=failed)
                caller_key = ratelimit.caller_key("key", password)
                method = "apikey"
        else:
            # No usable credentials: spend the same work as a wrong key.
            _equalise_timing(failed)
    uid = check_user(env, uid)
    if not uid or not caller_key:
        failed()
        if matched:
            raise _no_run_as_user(kind)
        raise auth_error(kind)
    return Caller(uid=uid, key=caller_key, method=method)


def apikey_caller(env, headers, on_failure=None):
    """Authenticate with an Odoo API key only (bearer, or basic login + key).

    Used by routes that belong to no config (webhooks, openapi.json, unknown
    resources). Returns a :class:`Caller`, or None when no Authorization
    header was sent; raises the 401 error for wrong credentials, after
    calling ``on_failure()`` once as :func:`authenticate` does.
    """
    raw = headers.get("Authorization")
    if not raw:
        return None
    failed = _FailureCount(on_failure)
    parsed = auth_headers.parse_authorization(raw)
    uid = None
    key = None
    if parsed and parsed[0] == "bearer":
        key = parsed[1]
        uid = _verify_apikey(env, key, failed=failed)
    elif parsed and parsed[0] == "basic":
        key = parsed[2]
        uid = _verify_apikey(env, key, login=parsed[1], failed=failed)
    else:
        _equalise_timing(failed)
    uid = check_user(env, uid)
    if not uid:
        failed()
        raise auth_error("bearer")
    return Caller(uid=uid, key=ratelimit.caller_key("key", key), method="apikey")
