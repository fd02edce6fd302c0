"""Inbound rate limits hold exactly across the workers of a prefork server.

The counter of a caller is one row per window, incremented by every worker at
once: a burst of parallel requests must let exactly the limit through, the
rest answered 429 with the contract's JSON, whatever worker serves them.
"""
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

# One burst collides in the counter often, not always: several callers (each
# its own counter row), so that a counter that loses hits under contention
# is caught on every run.
CALLERS = 4
LIMIT = 3
REQUESTS = 12
THREADS = 8

SETUP = """
config = env['bj.api.sync.config'].create({{
    'name': 'e2e rate limit {tag}', 'request_type': 'in', 'endpoint': 'e2e-rl-{tag}',
    'model_id': env['ir.model']._get('res.partner').id,
    'http_method_ids': [(6, 0, [env.ref('bj_api_sync.http_method_get').id])],
    'auth_type': 'bearer', 'user_id': env.ref('base.user_admin').id,
    'rate_limit_per_minute': 100, 'rate_limit_per_hour': 1000,
}})
print('BJ-E2E-CONFIG', config.id)
for index in range({callers}):
    user = env['res.users'].create({{
        'name': f'BJ e2e rate limit {tag} {{index}}', 'login': f'bj_e2e_rl_{tag}_{{index}}',
        'groups_id': [(6, 0, [env.ref('base.group_user').id,
                              env.ref('base.group_partner_manager').id])],
    }})
    print('BJ-E2E-KEY', env['res.users.apikeys'].with_user(user)._generate(None, 'bj e2e'))
env.cr.commit()
"""


def _make_config(odoo):
    tag = uuid.uuid4().hex[:8]
    out = odoo.shell(SETUP.format(tag=tag, callers=CALLERS))
    lines = [ln.split() for ln in out.splitlines() if ln.startswith("BJ-E2E-")]
    config_id = next(int(ln[1]) for ln in lines if ln[0] == "BJ-E2E-CONFIG")
    keys = [ln[1] for ln in lines if ln[0] == "BJ-E2E-KEY"]
    assert len(keys) == CALLERS, out
    return config_id, keys, f"e2e-rl-{tag}"


def _inside_one_minute(margin=15):
    """Wait until the current minute window has ``margin`` seconds left at least."""
    left = 60 - time.time() % 60
    if left < margin:
        time.sleep(left + 0.5)


def _burst(odoo, endpoint, key):
    """Send REQUESTS calls from THREADS threads at once; return the answers."""
    start = threading.Barrier(THREADS)

    def one(index):
        if index < THREADS:  # the first request of every thread leaves together
            start.wait(30)
        return odoo.http("GET", f"/api/sync/v1/{endpoint}/search?limit=1",
                         headers={"Authorization": f"Bearer {key}"}, timeout=60)

    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        return list(pool.map(one, range(REQUESTS)))


def _assert_exactly_the_limit(answers):
    statuses = sorted(a.status_code for a in answers)
    assert statuses == [200] * LIMIT + [429] * (REQUESTS - LIMIT), statuses
    for answer in answers:
        assert answer.headers["Content-Type"].startswith("application/json")
        assert answer.headers["X-RateLimit-Limit"] == str(LIMIT)
        body = answer.json()
        if answer.status_code == 200:
            assert body["success"] is True
            continue
        assert body["success"] is False
        assert body["error"]["code"] == "RATE_LIMIT_EXCEEDED"
        assert body["error"]["trace_id"] == answer.headers["X-Request-Id"]
        assert body["error"]["details"]["limit"] == LIMIT
        assert answer.headers["X-RateLimit-Remaining"] == "0"
        assert 1 <= int(answer.headers["Retry-After"]) <= 60
    remaining = sorted(a.headers["X-RateLimit-Remaining"] for a in answers
                       if a.status_code == 200)
    assert remaining == [str(n) for n in range(LIMIT)]


def test_burst_on_prefork_server_gets_exactly_the_limit(odoo):
    config_id, keys, endpoint = _make_config(odoo)
    # The limit changed from outside, as an integrator does: every worker applies it.
    odoo.rpc("bj.api.sync.config", "write", [config_id], {"rate_limit_per_minute": LIMIT})
    log_before = len(odoo.log_text())
    for key in keys:
        _inside_one_minute()
        _assert_exactly_the_limit(_burst(odoo, endpoint, key))
    # Nothing was let through because the counter failed.
    assert "Rate-limit counter unavailable" not in odoo.log_text()[log_before:]
