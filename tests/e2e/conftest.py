"""The end-to-end tier: a real Odoo 17 server in prefork mode, driven from outside.

One server is started for the whole pytest session (``--workers=2
--max-cron-threads=1``, a free port, its own scratch database with bj_api_sync
installed), as a client or an integrator meets it: over HTTP, XML-RPC and
``odoo-bin shell``. The server is stopped and its database dropped at the end,
whatever the tests did. Needs Odoo 17 importable by this interpreter and
PostgreSQL (``DB_HOST`` / ``DB_PORT`` / ``DB_USER``, default 127.0.0.1:5432 as
``odoo``); without them the session fails, it never skips silently.

Fixtures:

- ``odoo`` (session): :class:`OdooServer`: ``url``, ``db``, ``rpc()``,
  ``shell()``, ``http()``, ``log_text()``; ``sibling()`` gives a second server
  on the same database, ``kill()`` and ``serve()`` crash and restart one.
- ``sink`` (function): a started :class:`FaultServer` on 127.0.0.1.
"""
import contextlib
import os
import pathlib
import signal
import socket
import subprocess
import sys
import tempfile
import time
import xmlrpc.client

import psycopg2
import pytest
import requests

ROOT = pathlib.Path(__file__).resolve().parents[2]
ADDON = ROOT / "bj_api_sync"

# The addon's test helpers that import no Odoo (fault_server), without the
# addon's __init__ (which imports its Odoo models), as the pure tier does.
sys.path.insert(0, str(ROOT / "tests"))
import addon_package  # noqa: E402

addon_package.install()

from bj_api_sync.tests.fault_server import FaultServer  # noqa: E402

ADMIN_LOGIN = ADMIN_PASSWORD = "admin"
START_TIMEOUT = 120  # seconds for the server to answer /web/health


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _pg(dbname="postgres", **kwargs):
    return psycopg2.connect(
        host=os.environ.get("DB_HOST", "127.0.0.1"),
        port=int(os.environ.get("DB_PORT", "5432")),
        user=os.environ.get("DB_USER", "odoo"),
        dbname=dbname,
        **kwargs,
    )


class OdooServer:
    """A prefork Odoo server on 127.0.0.1 with bj_api_sync installed in its own database."""

    def __init__(self, workdir: pathlib.Path, db: str | None = None, name: str = "odoo-e2e"):
        """Prepare the configuration; :meth:`start` installs and serves.

        ``db``: serve this existing database (see :meth:`sibling`) instead of
        a new one; it is then neither installed nor dropped by this object.
        """
        import odoo  # noqa: F401  (fails loudly where Odoo 17 is not importable)

        self.workdir = workdir
        self.owns_db = db is None
        self.db = db or f"bj_api_sync_e2e_{os.getpid()}_{int(time.time())}"
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = workdir / f"{name}.log"
        self.conf = workdir / f"{name}.conf"
        odoo_addons = pathlib.Path(odoo.__file__).parent / "addons"
        self.conf.write_text(
            "[options]\n"
            f"db_host = {os.environ.get('DB_HOST', '127.0.0.1')}\n"
            f"db_port = {os.environ.get('DB_PORT', '5432')}\n"
            f"db_user = {os.environ.get('DB_USER', 'odoo')}\n"
            "db_password = False\n"
            f"addons_path = {odoo_addons},{ROOT}\n"
            "http_interface = 127.0.0.1\n"
            f"http_port = {self.port}\n"
            f"gevent_port = {_free_port()}\n"
            f"dbfilter = ^{self.db}$\n"
            "without_demo = all\n"
            "list_db = False\n"
            "log_level = info\n"
        )
        self.process = None
        self._uid = None

    def _odoo_bin(self, *args):
        # A script file, not ``python -c``: the prefork server starts its gevent
        # (long-polling) process as ``[sys.executable, sys.argv[0], "gevent", ...]``,
        # which with ``-c`` is ``python -c gevent`` and dies and restarts in a loop.
        launcher = self.workdir / "odoo-bin"
        if not launcher.exists():
            launcher.write_text("import odoo.cli\nodoo.cli.main()\n")
        return [sys.executable, str(launcher), *args]

    def sibling(self, name: str = "odoo-e2e-2") -> "OdooServer":
        """Return another server on this server's database (its own port, log and
        processes, its own cron worker), not started: call :meth:`serve`."""
        return OdooServer(self.workdir, db=self.db, name=name)

    def start(self):
        """Install the addon in a new database, then serve it in prefork mode."""
        if not self.owns_db:
            return self.serve()
        install_log = self.workdir / "install.log"
        with install_log.open("w") as out:
            rc = subprocess.call(
                self._odoo_bin("-c", str(self.conf), "-d", self.db, "-i", "bj_api_sync",
                               "--stop-after-init"),
                stdout=out, stderr=subprocess.STDOUT,
            )
        if rc != 0:
            raise RuntimeError(f"installing bj_api_sync failed (rc={rc}):\n"
                               + install_log.read_text()[-4000:])
        # Deliveries in these tests go to a sink on this machine, which the
        # webhook guard refuses unless allowed.
        self.shell("env['ir.config_parameter'].sudo().set_param("
                   "'bj_api_sync.webhook_allow_internal_urls', 'True'); env.cr.commit()")
        return self.serve()

    def serve(self):
        """Start the prefork server (two HTTP workers, one cron worker) on the
        database; return once it answers. Called again after :meth:`kill`, it
        restarts the server, appending to the same log."""
        self._log = self.log_path.open("a")
        self.process = subprocess.Popen(
            self._odoo_bin("-c", str(self.conf), "-d", self.db, "--workers=2",
                           "--max-cron-threads=1", "--limit-time-real=600"),
            stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError("the Odoo server exited:\n" + self.log_text()[-4000:])
            with contextlib.suppress(requests.RequestException):
                if requests.get(self.url + "/web/health", timeout=2).status_code == 200:
                    return self
            time.sleep(0.3)
        raise RuntimeError("the Odoo server did not answer in time:\n" + self.log_text()[-4000:])

    def kill(self, sig=signal.SIGKILL):
        """Kill the server's whole process group with ``sig`` (no clean-up: as a
        crash or the OOM killer would) and wait for it."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, sig)
        self.process.wait(20)
        self._log.close()

    def stop(self):
        """Stop the server (its whole process group) and drop its database
        (unless it serves another server's database)."""
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)
        if getattr(self, "_log", None):
            self._log.close()
        if not self.owns_db:
            return
        if os.environ.get("BJ_KEEP_DB") == "1":
            print(f"kept e2e database {self.db}")
            return
        conn = _pg(connect_timeout=5)
        conn.autocommit = True
        with conn.cursor() as cr:
            # Workers may still hold connections for a moment after SIGTERM.
            cr.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname=%s",
                       (self.db,))
            cr.execute(f'DROP DATABASE IF EXISTS "{self.db}"')
        conn.close()

    # -- ways in ------------------------------------------------------------

    def rpc(self, model, method, *args, **kwargs):
        """Call ``model.method(*args, **kwargs)`` over XML-RPC as the admin user."""
        if self._uid is None:
            common = xmlrpc.client.ServerProxy(self.url + "/xmlrpc/2/common", allow_none=True)
            self._uid = common.authenticate(self.db, ADMIN_LOGIN, ADMIN_PASSWORD, {})
            assert self._uid, "admin could not log in over XML-RPC"
        proxy = xmlrpc.client.ServerProxy(self.url + "/xmlrpc/2/object", allow_none=True)
        return proxy.execute_kw(self.db, self._uid, ADMIN_PASSWORD, model, method,
                                list(args), kwargs)

    def shell(self, code: str, timeout: float = 120) -> str:
        """Run ``code`` in ``odoo-bin shell`` (``env`` is there) and return what it printed.

        The code commits itself (``env.cr.commit()``), as in a real shell session.
        """
        done = subprocess.run(
            self._odoo_bin("shell", "-c", str(self.conf), "-d", self.db, "--no-http",
                           "--log-level=warn"),
            input=code, capture_output=True, text=True, timeout=timeout,
        )
        if done.returncode != 0 or "Traceback (most recent call last)" in done.stderr:
            raise AssertionError(f"odoo-bin shell failed (rc={done.returncode}):\n"
                                 f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
        return done.stdout

    def http(self, method, path, **kwargs) -> requests.Response:
        """Send one HTTP request to the server (``path`` starts with ``/``)."""
        kwargs.setdefault("timeout", 30)
        return requests.request(method, self.url + path, **kwargs)

    def log_text(self) -> str:
        """The server's log so far."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


@pytest.fixture(scope="session")
def odoo():
    """The prefork Odoo server of this session (started once, stopped at the end)."""
    with tempfile.TemporaryDirectory(prefix="bj_api_sync_e2e.") as workdir:
        server = OdooServer(pathlib.Path(workdir))
        try:
            server.start()
            yield server
        finally:
            server.stop()


@pytest.fixture
def sink():
    """A scriptable HTTP server on 127.0.0.1 that records what it receives."""
    with FaultServer() as server:
        yield server


def wait_for(predicate, timeout=10.0, interval=0.05):
    """Poll ``predicate`` until it returns a true value (returned) or ``timeout`` passes (None)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(interval)
