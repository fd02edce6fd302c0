"""Odoo <-> Odoo: two databases with bj_api_sync, each served by its own prefork server.

Database A is the session's server (``odoo``); database B is a second server
started by this module. A pushes partners to B's ``/api/sync/v1/res.partner``
(POST, body under ``data``, B's API key as bearer, B's inbound config upserting
by email) and keeps B's ids as bindings; A pulls B's partners from
``/api/sync/v1/res.partner/search`` following ``pagination.next``. Both
directions are asserted on both sides, over XML-RPC, as an integrator sees them.
"""
import json
import math
import pathlib
import tempfile
import time
import types
import uuid
from urllib.parse import quote

import pytest
from conftest import OdooServer

# B: an API user with an Odoo API key, and one inbound config on res.partner
# that upserts by email and shows only this module's partners (names o2o-...).
SETUP_B = """
user = env['res.users'].create({{
    'name': 'o2o bot {tag}', 'login': 'o2o_bot_{tag}',
    'groups_id': [(6, 0, [env.ref('base.group_user').id,
                          env.ref('base.group_partner_manager').id])],
}})
methods = [env.ref('bj_api_sync.http_method_%s' % m).id for m in ('get', 'post', 'put')]
config = env['bj.api.sync.config'].create({{
    'name': 'o2o inbound partners', 'request_type': 'in',
    'model_id': env['ir.model']._get('res.partner').id, 'endpoint': 'res.partner',
    'http_method_ids': [(6, 0, methods)], 'auth_type': 'bearer',
    'filter_domain': "[('name', '=like', 'o2o-%')]",
    'rate_limit_per_minute': 0, 'rate_limit_per_hour': 0,
}})
for key, identifier in (('name', False), ('email', True), ('ref', False)):
    env['bj.api.sync.config.line'].create({{
        'config_id': config.id, 'external_key': key, 'is_identifier': identifier,
        'field_id': env['ir.model.fields']._get('res.partner', key).id,
    }})
print('O2O-KEY', env['res.users.apikeys'].with_user(user)._generate(None, 'o2o {tag}'))
env.cr.commit()
"""

# A: an outbound config (POST, or GET importing) with lines name, email, ref.
CONFIG_A = """
config = env['bj.api.sync.config'].create({{
    'name': {name!r}, 'request_type': 'out',
    'model_id': env['ir.model']._get('res.partner').id, 'url': {url!r},
    'http_method_ids': [(6, 0, [env.ref('bj_api_sync.http_method_{method}').id])],
    'auth_type': 'bearer', 'bearer_token': {key!r}, 'max_retries': 0,
    **{extra!r},
}})
for key, identifier in (('name', False), ('email', True), ('ref', False)):
    env['bj.api.sync.config.line'].create({{
        'config_id': config.id, 'external_key': key, 'is_identifier': identifier,
        'field_id': env['ir.model.fields']._get('res.partner', key).id,
    }})
print('O2O-CONFIG', config.id)
env.cr.commit()
"""

PUSH = """
import json
partners = env['res.partner'].browse({ids!r})
result = env['bj.api.sync.config']._make_outbound_http_request(partners, {config_id})
print('O2O-RESULT', json.dumps({{'success': bool(result.success), 'state': result.state,
                                 'status': result.status_code}}))
env.cr.commit()
"""

PULL = """
import json
result = env['bj.api.sync.config'].browse({config_id})._run_import()
print('O2O-RESULT', json.dumps(result))
env.cr.commit()
"""

FIELDS = ["name", "email", "ref"]


def _marker(out, marker):
    """The token printed after ``marker`` by a shell script."""
    assert marker in out, out
    return out.split(marker + " ", 1)[1].splitlines()[0].strip()


def _second_server(workdir, taken):
    """An OdooServer whose database name differs from ``taken`` (names hold the second)."""
    server = OdooServer(workdir)
    deadline = time.monotonic() + 5
    while server.db == taken and time.monotonic() < deadline:
        time.sleep(0.5)
        server = OdooServer(workdir)
    assert server.db != taken, "could not name a second database"
    return server


@pytest.fixture(scope="module")
def pair(odoo):
    """A (the session server) and B (a second server of this module), B set up
    with an API user, its key and an inbound res.partner config. B is stopped
    and its database dropped at the end, whatever happened."""
    with tempfile.TemporaryDirectory(prefix="bj_api_sync_e2e_b.") as workdir:
        b = _second_server(pathlib.Path(workdir), odoo.db)
        try:
            b.start()
            tag = uuid.uuid4().hex[:8]
            key = _marker(b.shell(SETUP_B.format(tag=tag)), "O2O-KEY")
            yield types.SimpleNamespace(a=odoo, b=b, key=key)
        finally:
            b.stop()


def _tag():
    return uuid.uuid4().hex[:8]


def _partners(server, emails):
    """The partners of ``server`` with these emails, by email (a list each)."""
    rows = server.rpc("res.partner", "search_read", [("email", "in", list(emails))],
                      fields=FIELDS)
    found = {}
    for row in rows:
        found.setdefault(row["email"], []).append(row)
    return found


def _state(pair, emails, config_id=None):
    """What each side holds, and the servers' log tails: the message of a failed assertion."""
    lines = ["--- A partners:", repr(_partners(pair.a, emails)),
             "--- B partners:", repr(_partners(pair.b, emails))]
    if config_id:
        lines += ["--- A bindings:", repr(pair.a.rpc(
            "bj.api.sync.binding", "search_read", [("config_id", "=", config_id)],
            fields=["res_id", "external_id", "state", "last_error"]))]
        lines += ["--- A logs:", repr(pair.a.rpc(
            "bj.api.log", "search_read", [("config_id", "=", config_id)],
            fields=["http_method", "url", "status_code", "state", "error_message",
                    "response_body"], order="id desc", limit=6))]
    lines += ["--- B logs:", repr(pair.b.rpc(
        "bj.api.log", "search_read", [], fields=["http_method", "url", "status_code",
                                                 "state", "error_message"],
        order="id desc", limit=6))]
    lines += ["--- A server log tail:", _log_tail(pair.a),
              "--- B server log tail:", _log_tail(pair.b)]
    return "\n".join(lines)


# Odoo's prefork server respawns its gevent process as ``sys.argv[0] gevent``,
# which fails when the server was started with ``python -c``: that noise is
# left out of the tails.
GEVENT_NOISE = ("Traceback (most recent call last):", 'File "<string>", line 1, in <module>',
                "NameError: name 'gevent' is not defined")


def _log_tail(server, size=4000):
    """The end of ``server``'s log, without the gevent respawn noise."""
    kept = [line for line in server.log_text().splitlines()
            if line.strip() not in GEVENT_NOISE]
    return "\n".join(kept)[-size:]


def _counts(result):
    """The counts of an import's result (it also holds ``log_ids`` and ``error``)."""
    return {key: result.get(key) for key in ("created", "updated", "failed", "pages")}


def _config_a(pair, name, url, method, extra):
    out = pair.a.shell(CONFIG_A.format(name=name, url=url, method=method, key=pair.key,
                                       extra=extra))
    return int(_marker(out, "O2O-CONFIG"))


def test_push_a_to_b_creates_then_updates_and_binds(pair):
    tag = _tag()
    people = [{"name": f"o2o-{tag}-a-{i}", "email": f"o2o-{tag}-a-{i}@example.com",
               "ref": f"A{i}"} for i in range(3)]
    emails = [p["email"] for p in people]
    ids = [pair.a.rpc("res.partner", "create", p) for p in people]
    config_id = _config_a(pair, f"o2o push {tag}", pair.b.url + "/api/sync/v1/res.partner",
                          "post", {"body_envelope": "data", "response_id_path": "id"})

    def push(record_ids):
        out = pair.a.shell(PUSH.format(ids=record_ids, config_id=config_id))
        return json.loads(_marker(out, "O2O-RESULT"))

    result = push(ids)
    assert result["success"], f"{result}\n{_state(pair, emails, config_id)}"

    on_b = _partners(pair.b, emails)
    assert sorted(on_b) == sorted(emails), _state(pair, emails, config_id)
    assert all(len(rows) == 1 for rows in on_b.values()), _state(pair, emails, config_id)
    for person in people:
        row = on_b[person["email"]][0]
        assert (row["name"], row["ref"]) == (person["name"], person["ref"]), row
    b_ids = {email: rows[0]["id"] for email, rows in on_b.items()}

    def bindings():
        rows = pair.a.rpc("bj.api.sync.binding", "search_read",
                          [("config_id", "=", config_id)],
                          fields=["res_model", "res_id", "external_id", "state"])
        return {row["res_id"]: row for row in rows}

    bound = bindings()
    assert sorted(bound) == sorted(ids), _state(pair, emails, config_id)
    for a_id, person in zip(ids, people):
        assert bound[a_id]["res_model"] == "res.partner"
        assert bound[a_id]["state"] == "synced", bound[a_id]
        assert bound[a_id]["external_id"] == str(b_ids[person["email"]]), (
            f"{bound[a_id]}\n{_state(pair, emails, config_id)}")

    # A change in A, pushed again: B's record is updated in place, not duplicated.
    renamed = f"o2o-{tag}-a-0-renamed"
    pair.a.rpc("res.partner", "write", [ids[0]], {"name": renamed, "ref": "A0-v2"})
    result = push(ids)
    assert result["success"], f"{result}\n{_state(pair, emails, config_id)}"
    on_b = _partners(pair.b, emails)
    assert all(len(rows) == 1 for rows in on_b.values()), _state(pair, emails, config_id)
    assert {email: rows[0]["id"] for email, rows in on_b.items()} == b_ids
    first = on_b[emails[0]][0]
    assert (first["name"], first["ref"]) == (renamed, "A0-v2"), _state(pair, emails, config_id)
    assert pair.b.rpc("res.partner", "search_count",
                      [("name", "=like", f"o2o-{tag}-%")]) == len(people)
    bound = bindings()
    assert len(bound) == len(ids)
    assert {bound[a_id]["external_id"] for a_id in ids} == {str(i) for i in b_ids.values()}


def test_pull_b_into_a_follows_pagination_and_upserts(pair):
    tag = _tag()
    count, per_page = 5, 2
    people = [{"name": f"o2o-{tag}-b-{i}", "email": f"o2o-{tag}-b-{i}@example.com",
               "ref": f"B{i}"} for i in range(count)]
    emails = [p["email"] for p in people]
    b_ids = [pair.b.rpc("res.partner", "create", p) for p in people]
    # Only this test's partners of B (the inbound config already hides the
    # rest of B's partners): a domain the next links keep.
    domain = quote(json.dumps([["name", "=like", f"o2o-{tag}-b-%"]]))
    url = (pair.b.url + f"/api/sync/v1/res.partner/search?per_page={per_page}"
           f"&domain={domain}")
    config_id = _config_a(pair, f"o2o pull {tag}", url, "get", {
        "response_action": "import", "import_items_path": "records",
        "import_pagination": "next_link", "import_next_path": "pagination.next",
        "import_max_pages": 20,
    })

    def pull():
        out = pair.a.shell(PULL.format(config_id=config_id))
        return json.loads(_marker(out, "O2O-RESULT"))

    pages = math.ceil(count / per_page)
    result = pull()
    assert _counts(result) == {"created": count, "updated": 0, "failed": 0, "pages": pages}, (
        f"{result}\n{_state(pair, emails, config_id)}")
    assert result["error"] is None, result
    on_a = _partners(pair.a, emails)
    assert sorted(on_a) == sorted(emails), _state(pair, emails, config_id)
    assert all(len(rows) == 1 for rows in on_a.values()), _state(pair, emails, config_id)
    for person in people:
        row = on_a[person["email"]][0]
        assert (row["name"], row["ref"]) == (person["name"], person["ref"]), row
    a_ids = {email: rows[0]["id"] for email, rows in on_a.items()}
    logs = pair.a.rpc("bj.api.log", "search_count", [("config_id", "=", config_id)])
    assert logs == pages, _state(pair, emails, config_id)

    # A change in B, pulled again: A's records are updated, none created.
    pair.b.rpc("res.partner", "write", [b_ids[0]], {"ref": "B0-v2"})
    result = pull()
    assert _counts(result) == {"created": 0, "updated": count, "failed": 0, "pages": pages}, (
        f"{result}\n{_state(pair, emails, config_id)}")
    assert result["error"] is None, result
    on_a = _partners(pair.a, emails)
    assert {email: [r["id"] for r in rows] for email, rows in on_a.items()} == {
        email: [a_id] for email, a_id in a_ids.items()}, _state(pair, emails, config_id)
    assert on_a[emails[0]][0]["ref"] == "B0-v2", _state(pair, emails, config_id)
