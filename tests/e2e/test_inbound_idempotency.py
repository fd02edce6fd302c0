"""Inbound ``Idempotency-Key`` across the workers of a prefork server.

The first call is held inside its write: the test locks the target table from
a connection of its own (``LOCK TABLE ... IN EXCLUSIVE MODE`` lets reads
through and stops the INSERT), so that worker is busy and every other call
is served by the other worker. No test-only code in the addon is involved.
"""
import re
import threading
import uuid

import pytest
from conftest import _pg, wait_for

REPLAYED = "Idempotent-Replayed"
TABLE = "res_partner_industry"

SETUP = """
config = env['bj.api.sync.config'].create({{
    'name': 'e2e idempotency {tag}', 'request_type': 'in', 'endpoint': 'e2e-idem-{tag}',
    'model_id': env['ir.model']._get('res.partner.industry').id,
    'http_method_ids': [(6, 0, [env.ref('bj_api_sync.http_method_post').id,
                                env.ref('bj_api_sync.http_method_get').id])],
    'auth_type': 'bearer', 'bearer_token': '{token}',
    'user_id': env.ref('base.user_admin').id,
    'rate_limit_per_minute': 0, 'rate_limit_per_hour': 0,
}})
env['bj.api.sync.config'].create({{
    'name': 'e2e idempotency countries {tag}', 'request_type': 'in',
    'endpoint': 'e2e-idem-country-{tag}', 'model_id': env['ir.model']._get('res.country').id,
    'http_method_ids': [(6, 0, [env.ref('bj_api_sync.http_method_post').id])],
    'auth_type': 'bearer', 'bearer_token': '{token}',
    'user_id': env.ref('base.user_admin').id,
    'rate_limit_per_minute': 0, 'rate_limit_per_hour': 0,
}})
env.cr.commit()
print('BJ-E2E-CONFIG', config.id)
"""


@pytest.fixture(scope="module")
def resource(odoo):
    """An inbound config on industries (a table nothing else of the server writes)."""
    tag, token = uuid.uuid4().hex[:8], uuid.uuid4().hex
    out = odoo.shell(SETUP.format(tag=tag, token=token))
    assert "BJ-E2E-CONFIG" in out, out
    return f"/api/sync/v1/e2e-idem-{tag}", {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="module")
def countries(resource):
    """The config on countries (a unique code: a 409 DUPLICATE_RECORD is easy to get)."""
    path, auth = resource
    return path.replace("/e2e-idem-", "/e2e-idem-country-"), auth


def _sql(odoo, query, params=()):
    conn = _pg(odoo.db)
    conn.autocommit = True
    try:
        with conn.cursor() as cr:
            cr.execute(query, params)
            return cr.fetchall()
    finally:
        conn.close()


def _count(odoo, name):
    """How many industries are called ``name``."""
    return _sql(odoo, f"SELECT count(*) FROM {TABLE} WHERE name->>'en_US' = %s", (name,))[0][0]


def _waiting_on_lock(odoo):
    return _sql(odoo, "SELECT count(*) FROM pg_locks WHERE relation = %s::regclass "
                "AND NOT granted", (TABLE,))[0][0]


def _served_by(odoo, path, status, seen):
    """Pids of the workers that logged ``POST path`` with ``status`` (new lines only)."""
    pattern = re.compile(r"^\S+ \S+ (\d+) INFO \S+ werkzeug: .*\"POST "
                         + re.escape(path) + r" HTTP/1\.1\" " + str(status) + " ", re.M)
    return [int(pid) for pid in pattern.findall(odoo.log_text()[seen:])]


class _Held:
    """A POST sent from a thread while the target table is locked: it waits in its INSERT."""

    def __init__(self, odoo, path, headers, body):
        self.lock = _pg(odoo.db)
        with self.lock.cursor() as cr:
            cr.execute(f"LOCK TABLE {TABLE} IN EXCLUSIVE MODE")
        self.answer = None
        self.thread = threading.Thread(target=self._send, args=(odoo, path, headers, body))
        self.thread.start()

    def _send(self, odoo, path, headers, body):
        self.answer = odoo.http("POST", path, json=body, headers=headers, timeout=120)

    def release(self):
        """Let the INSERT through; return the held call's answer."""
        self.lock.rollback()
        self.lock.close()
        self.thread.join(120)
        return self.answer


def test_parallel_calls_with_one_key_write_once(odoo, resource):
    path, auth = resource
    name = f"Industry {uuid.uuid4().hex[:8]}"
    key = str(uuid.uuid4())
    headers = {**auth, "Idempotency-Key": key}
    body = {"data": {"name": name}}
    log_start = len(odoo.log_text())
    held = _Held(odoo, path, headers, body)
    try:
        # The first call claimed the key and now waits in its INSERT.
        assert wait_for(lambda: _waiting_on_lock(odoo) >= 1, timeout=60), odoo.log_text()[-3000:]
        claims = _sql(odoo, "SELECT state FROM bj_api_idempotency_key WHERE idempotency_key = %s",
                      (key,))
        assert claims == [("running",)]
        # The other worker sees it running: 409, whatever it is asked.
        busy = odoo.http("POST", path, json=body, headers=headers)
        assert busy.status_code == 409, busy.text
        assert busy.json()["error"]["code"] == "IDEMPOTENCY_KEY_IN_USE"
        assert busy.json()["error"]["trace_id"] == busy.headers["X-Request-Id"]
        assert REPLAYED not in busy.headers
        other = odoo.http("POST", path, json={"data": {"name": name + " bis"}}, headers=headers)
        assert other.status_code == 422, other.text
        assert other.json()["error"]["code"] == "IDEMPOTENCY_KEY_REUSED"
        # GET does not care about the key (reads are not blocked by the lock).
        assert odoo.http("GET", path + "/search?limit=1", headers=headers).status_code == 200
        assert held.thread.is_alive()
    finally:
        first = held.release()
    assert first is not None and first.status_code == 201, first and first.text
    assert REPLAYED not in first.headers
    replay = odoo.http("POST", path, json=body, headers=headers)
    assert replay.status_code == 201, replay.text
    assert replay.headers[REPLAYED] == "true"
    assert replay.text == first.text
    assert _count(odoo, name) == 1
    # The 409 and the 422 were served while the first call held its worker: by the other one.
    # (A worker logs its request line once the answer is sent: wait for both lines.)
    first_pids = wait_for(lambda: _served_by(odoo, path, 201, log_start), timeout=10)
    busy_pids = wait_for(lambda: _served_by(odoo, path, 409, log_start), timeout=10)
    assert busy_pids and first_pids and busy_pids[0] != first_pids[0], (first_pids, busy_pids)
    # Every call was logged, the replay as one.
    rows = _sql(odoo, "SELECT status_code, summary FROM bj_api_log WHERE trace_id = %s",
                (replay.headers["X-Request-Id"],))
    assert rows and rows[0][0] == 201 and "Idempotent replay" in rows[0][1]


def test_a_replay_through_the_other_worker(odoo, resource):
    path, auth = resource
    name = f"Industry {uuid.uuid4().hex[:8]}"
    headers = {**auth, "Idempotency-Key": str(uuid.uuid4())}
    body = {"data": {"name": name}}
    log_start = len(odoo.log_text())
    first = odoo.http("POST", path, json=body, headers=headers)
    assert first.status_code == 201, first.text
    assert wait_for(lambda: _served_by(odoo, path, 201, log_start), timeout=10)
    first_pid = _served_by(odoo, path, 201, log_start)[0]
    # Hold one worker with another call until the worker that answered first is
    # the busy one: the replay then can only be served by the other worker.
    for _attempt in range(10):
        seen = len(odoo.log_text())
        blocker = {"data": {"name": f"Blocker {uuid.uuid4().hex[:8]}"}}
        held = _Held(odoo, path, {**auth, "Idempotency-Key": str(uuid.uuid4())}, blocker)
        try:
            assert wait_for(lambda: _waiting_on_lock(odoo) >= 1, timeout=60)
            blocked = _sql(odoo, "SELECT count(*) FROM pg_stat_activity WHERE datname = %s "
                           "AND wait_event_type = 'Lock'", (odoo.db,))[0][0]
            assert blocked >= 1
            replay = odoo.http("POST", path, json=body, headers=headers)
        finally:
            answer = held.release()
        assert answer.status_code == 201, answer.text
        assert replay.status_code == 201 and replay.headers[REPLAYED] == "true", replay.text
        assert replay.text == first.text
        wait_for(lambda seen=seen: len(_served_by(odoo, path, 201, seen)) >= 2, timeout=10)
        # The replay's line, then the blocker's: two workers.
        pids = _served_by(odoo, path, 201, seen)
        assert len(pids) == 2 and pids[0] != pids[1], pids
        if pids[0] != first_pid:
            break
    else:
        pytest.fail(f"the worker that answered first never held the blocker: {first_pid}")
    assert _count(odoo, name) == 1


def test_a_409_releases_the_key_and_a_400_is_kept(odoo, countries):
    path, auth = countries
    key = str(uuid.uuid4())
    headers = {**auth, "Idempotency-Key": key}
    duplicate = {"data": {"name": f"Land {uuid.uuid4().hex[:8]}", "code": "BE"}}
    for _call in range(2):
        # Not kept: the claim is deleted at once, so the same call runs again
        # (a claim left behind would answer 409 IDEMPOTENCY_KEY_IN_USE).
        answer = odoo.http("POST", path, json=duplicate, headers=headers)
        assert answer.status_code == 409, answer.text
        assert answer.json()["error"]["code"] == "DUPLICATE_RECORD"
        assert REPLAYED not in answer.headers
    assert _sql(odoo, "SELECT count(*) FROM bj_api_idempotency_key "
                "WHERE idempotency_key = %s", (key,)) == [(0,)]
    key = str(uuid.uuid4())
    headers = {**auth, "Idempotency-Key": key}
    bad = {"data": {"name": "Nowhere", "code": "Q1", "colour": "red"}}
    first = odoo.http("POST", path, json=bad, headers=headers)
    assert first.status_code == 400, first.text
    replay = odoo.http("POST", path, json=bad, headers=headers)
    assert (replay.status_code, replay.text) == (400, first.text)
    assert replay.headers[REPLAYED] == "true"
    assert _sql(odoo, "SELECT state, status_code FROM bj_api_idempotency_key "
                "WHERE idempotency_key = %s", (key,)) == [("done", 400)]
