"""The OAuth2 access token of an outbound configuration, shared by every worker.

The token lives in ``bj_api_oauth2_token`` (one row per configuration: the
token, when it stops being used, the client authentication that worked and a
fingerprint of the settings it was obtained with). That table is read and
written on a cursor of its own, committed at once: another worker sees a new
token immediately, and a rollback of the delivery's transaction cannot lose it
(nor can a delivery's transaction hold the row).

Reading a valid token takes no lock. Getting a new one does, so that only one
worker asks the token server: in one READ COMMITTED transaction, the row is
created if missing (``INSERT ... ON CONFLICT DO NOTHING``), locked
``SELECT ... FOR UPDATE``, looked at again (another worker may have just
refreshed it: then its token is used), and only then is the token server
asked, the row updated and the transaction committed, which releases the lock.
Workers that wait meanwhile read the new token when the lock is released; a
wait longer than the token requests' own timeouts gives up with a retryable
error instead of hanging. At Odoo's usual REPEATABLE READ, the waiting workers
would instead fail to serialize once the first one commits.

A token refused with 401 by the API is replaced once (:meth:`TokenSource.
access_token` with ``refused``); the row keeps the token another worker has
already put in its place, so a burst of 401s asks the token server once.
"""
import logging
import time
from datetime import datetime, timezone

from psycopg2 import errors as pg_errors
from psycopg2.extensions import ISOLATION_LEVEL_READ_COMMITTED

import odoo.sql_db
from odoo.tools import hmac as odoo_hmac

from ..engine import oauth2

_logger = logging.getLogger(__name__)

# Seconds a worker waits for another one fetching the token, beyond the token
# requests' own timeouts (two requests when the client authentication falls back).
LOCK_SLACK = 5.0

_SELECT = """
    SELECT access_token, expires_at, auth_method, fingerprint
      FROM bj_api_oauth2_token WHERE config_id = %s
"""


def _epoch(moment):
    """A naive UTC datetime from the table as epoch seconds (None stays None)."""
    if moment is None:
        return None
    return moment.replace(tzinfo=timezone.utc).timestamp()


def _utc(epoch):
    """Epoch seconds as the naive UTC datetime the table stores."""
    return datetime.fromtimestamp(epoch, timezone.utc).replace(tzinfo=None)


def credentials_of(config):
    """Return the ``engine.oauth2.ClientCredentials`` of a config (read in sudo)."""
    config = config.sudo()
    return oauth2.ClientCredentials(
        token_url=(config.oauth2_token_url or "").strip(),
        client_id=(config.oauth2_client_id or "").strip(),
        client_secret=config.oauth2_client_secret or "",
        scope=(config.oauth2_scope or "").strip(),
    )


def fingerprint(config, credentials):
    """Return the HMAC (keyed with the database secret) of the settings a token is
    obtained with: a cached token of other settings is never used, so changing the
    token URL, client id, secret or scope invalidates it at once, in every worker."""
    message = "\x1f".join((str(config.id), credentials.token_url, credentials.client_id,
                           credentials.client_secret, credentials.scope))
    return odoo_hmac(config.env(su=True), "bj_api_sync.oauth2", message)


def forget(env, config_ids):
    """Delete the cached tokens of ``config_ids`` in ``env``'s transaction."""
    if config_ids:
        env.cr.execute("DELETE FROM bj_api_oauth2_token WHERE config_id IN %s",
                       (tuple(config_ids),))


def forget_now(dbname, config_ids):
    """Delete the cached tokens of ``config_ids`` on a cursor of its own, committed."""
    if not config_ids:
        return
    with odoo.sql_db.db_connect(dbname).cursor() as cr:
        cr.connection.set_isolation_level(ISOLATION_LEVEL_READ_COMMITTED)
        cr.execute("DELETE FROM bj_api_oauth2_token WHERE config_id IN %s",
                   (tuple(config_ids),))


class TokenSource:
    """The access token of one oauth2 configuration for one run of requests.

    The token is kept in memory for the run (a ``RequestFactory``) and in the
    shared table for every worker; :meth:`access_token` gives a token that is
    valid now, fetching one when needed. Raises ``engine.oauth2.TokenError``
    (messages without secret or token) when none can be had.
    """

    def __init__(self, config, *, session=None, timeout=None, refuse_internal=False):
        self.dbname = config.env.cr.dbname
        self.config_id = config.id
        self.name = config.name
        self.credentials = credentials_of(config)
        self.fingerprint = fingerprint(config, self.credentials)
        self.session = session
        self.timeout = timeout
        self.refuse_internal = refuse_internal
        self.token = None  # (access token, expires at epoch)
        self.fetched = None  # the engine Token of the last fetch of this run, if any
        self.seen = []  # every token of this run: masked in its logs

    # ------------------------------------------------------------------ public
    def access_token(self, refused=None):
        """Return an access token valid now.

        ``refused``: a token the API has just answered 401 to; it is not given
        again (a new one is fetched, unless another worker already did).
        """
        now = time.time()
        if self.token and self.token[0] != refused and self.token[1] > now:
            return self.token[0]
        if refused is None:
            row = self._read()
            if self._usable(row, now, refused):
                return self._keep(row[0], _epoch(row[1]))
        return self._refresh(refused=refused)

    def fetch_now(self):
        """Fetch a new token whatever the cache holds (Test Connection); store it and
        return the engine Token (to say what the token server answered)."""
        self._refresh(force=True)
        return self.fetched

    def secrets(self):
        """The tokens of this run, to be masked in its logs."""
        return tuple(self.seen)

    # ------------------------------------------------------------------ inside
    def _keep(self, access_token, expires_at):
        self.token = (access_token, expires_at)
        if access_token not in self.seen:
            self.seen.append(access_token)
        return access_token

    def _usable(self, row, now, refused):
        """Whether a table row holds a token of these settings, valid now, not refused."""
        if not row or not row[0] or row[3] != self.fingerprint:
            return False
        expires_at = _epoch(row[1])
        return expires_at is not None and expires_at > now and row[0] != refused

    def _cursor(self):
        cr = odoo.sql_db.db_connect(self.dbname).cursor()
        # Set before the first statement of the transaction; the pool's next
        # cursor sets its own level again (see the module docstring).
        cr.connection.set_isolation_level(ISOLATION_LEVEL_READ_COMMITTED)
        return cr

    def _read(self):
        with self._cursor() as cr:
            cr.execute(_SELECT, (self.config_id,))
            return cr.fetchone()

    def _lock_timeout_ms(self):
        connect, read = self.timeout or (5.0, 15.0)
        return int((2 * (connect + read) + LOCK_SLACK) * 1000)

    def _refresh(self, refused=None, force=False):
        """Get a token under the row lock: the one another worker just stored, or a
        new one from the token server (stored before the lock is released)."""
        try:
            with self._cursor() as cr:
                cr.execute("SELECT set_config('lock_timeout', %s, true)",
                           (f"{self._lock_timeout_ms()}ms",))
                cr.execute("INSERT INTO bj_api_oauth2_token (config_id) VALUES (%s) "
                           "ON CONFLICT (config_id) DO NOTHING", (self.config_id,))
                cr.execute(_SELECT + " FOR UPDATE", (self.config_id,))
                row = cr.fetchone()
                if not force and self._usable(row, time.time(), refused):
                    return self._keep(row[0], _epoch(row[1]))
                remembered = row[2] if row and row[3] == self.fingerprint else None
                token = oauth2.fetch_token(
                    self.credentials, remembered, session=self.session, timeout=self.timeout,
                    refuse_internal=self.refuse_internal,
                )
                cr.execute(
                    "UPDATE bj_api_oauth2_token SET access_token = %s, expires_at = %s, "
                    "auth_method = %s, fingerprint = %s, fetched_at = %s WHERE config_id = %s",
                    (token.access_token, _utc(token.expires_at), token.method, self.fingerprint,
                     _utc(token.obtained_at), self.config_id),
                )
        except pg_errors.LockNotAvailable as exc:
            raise oauth2.TokenError(
                f"OAuth2 token of {self.name}: another worker has been fetching it for "
                f"{self._lock_timeout_ms() // 1000} s; tried again later", retryable=True,
            ) from exc
        self.fetched = token
        _logger.info("bj_api_sync: OAuth2 token of configuration %s (id %s) fetched from %s: %s",
                     self.name, self.config_id, oauth2.safe_url(self.credentials.token_url),
                     token.describe())
        return self._keep(token.access_token, token.expires_at)
